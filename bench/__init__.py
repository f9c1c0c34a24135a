"""Benchmarks: scripts that print figures, never assertions (see README, "Benchmarks")."""
