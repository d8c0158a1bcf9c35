"""Courier adapter layer: one protocol, a registry, one module per carrier."""
