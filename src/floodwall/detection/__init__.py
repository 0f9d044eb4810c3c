"""floodwall.detection room (see DESIGN.md)."""
