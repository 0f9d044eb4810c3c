"""floodwall.storage room (see DESIGN.md)."""
