"""Benchmarks and fault drills against the dev stack: `make bench`."""
