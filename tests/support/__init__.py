"""Helpers shared by tests of every room (network namespaces, servers, polling)."""
