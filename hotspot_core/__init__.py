"""Interaction hotspots core: model, hotspot maps, metrics (no ROS imports)."""
