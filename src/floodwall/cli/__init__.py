"""floodwall.cli room (see DESIGN.md)."""
