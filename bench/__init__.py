"""Benchmarks: scripts that print figures, never assertions (see docs/benchmarks.md)."""
