"""floodwall.matching room (see DESIGN.md)."""
