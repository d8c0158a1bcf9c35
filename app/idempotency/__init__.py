"""Idempotency-Key storage and replay for POSTs that create things."""
