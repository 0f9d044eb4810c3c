"""floodwall.bans room (see DESIGN.md)."""
