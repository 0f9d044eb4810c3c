"""floodwall.cluster room (see docs/architecture.md)."""
