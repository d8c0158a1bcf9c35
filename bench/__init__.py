"""Benchmarks and load-test clients (run against a live server)."""
