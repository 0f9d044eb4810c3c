"""floodwall.bans room (see docs/architecture.md)."""
