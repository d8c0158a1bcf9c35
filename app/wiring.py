"""Start-up wiring: the hooks through which lower packages reach higher ones without importing them.

Every entry point calls `install_hooks()` once before it serves or works:
`create_app` (the API, also `courier-hub serve`), `run_worker` (`courier-hub
worker`) and CLI commands that write through services. Each registration is
idempotent, so calling it again (tests build many apps) changes nothing.
"""

from __future__ import annotations

from app.shipments import service as shipments
from app.webhooks import fanout


def install_hooks() -> None:
    """Register every cross-package hook: the webhook outbox (app.events.hooks) and shipments
    detaching from a deleted integration (app.integrations.hooks)."""
    fanout.register()
    shipments.register_hooks()
