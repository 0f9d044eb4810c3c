"""floodwall.storage room (see docs/architecture.md)."""
