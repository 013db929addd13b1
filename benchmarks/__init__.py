"""Throughput and latency measurements, run by hand: ``python -m benchmarks.<name>``."""
