"""floodwall.server room (see docs/architecture.md)."""
