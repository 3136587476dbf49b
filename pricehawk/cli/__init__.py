"""`pricehawk ...` commands: the one place allowed to start the apps (always lazily).

Each module here that defines `register(subparsers)` adds its commands; `main` finds them.
"""
