"""Integration events: each tenant's append-only event log (the webhook outbox)."""
