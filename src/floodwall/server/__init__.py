"""floodwall.server room (see DESIGN.md)."""
