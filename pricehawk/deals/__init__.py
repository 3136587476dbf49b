"""Deals: confirmed glitches as each tier may see them (its delay applied)."""
