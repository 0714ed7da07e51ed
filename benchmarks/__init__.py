"""Benchmarks for issue 9 ("saturate the provider, not the harness"): `make bench` or `python -m benchmarks`."""
