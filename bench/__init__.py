"""Benchmarks, and the deterministic traffic generator that feeds the demo, the tests and
`make bench`."""
