"""floodwall.config room (see DESIGN.md)."""
