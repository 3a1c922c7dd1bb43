"""Training code of interaction_hotspots."""
