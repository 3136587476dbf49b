"""Tracked products: a subscriber pastes a product URL, we watch its price for them."""
