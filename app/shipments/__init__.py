"""Shipments registered by tracking number, and their tracking events."""
