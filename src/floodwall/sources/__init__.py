"""floodwall.sources room (see docs/architecture.md)."""
