"""The portal's blueprints."""
