"""A subscriber's alert preferences and contact channels."""
