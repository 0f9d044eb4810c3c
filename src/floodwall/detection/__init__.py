"""floodwall.detection room (see docs/architecture.md)."""
