"""Products and their price history."""
