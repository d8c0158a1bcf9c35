"""Idempotent POS / shop order ingestion."""
