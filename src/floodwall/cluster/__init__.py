"""floodwall.cluster room (see DESIGN.md)."""
