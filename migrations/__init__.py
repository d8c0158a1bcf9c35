"""Alembic migrations (run with `courier-hub migrate`)."""
