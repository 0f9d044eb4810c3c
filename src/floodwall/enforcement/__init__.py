"""floodwall.enforcement room (see DESIGN.md)."""
