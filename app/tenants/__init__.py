"""Tenants: the merchants (or merchant groups) whose rows the database isolates."""
