"""floodwall.config room (see docs/architecture.md)."""
