"""floodwall.sources room (see DESIGN.md)."""
