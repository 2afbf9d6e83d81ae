"""Benchmarks for elastic-access-bot (not part of pytest): ``python -m bench.run [--quick]``."""
