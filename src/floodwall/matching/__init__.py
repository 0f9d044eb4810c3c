"""floodwall.matching room (see docs/architecture.md)."""
