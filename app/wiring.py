"""Start-up wiring: the hooks through which lower packages reach higher ones without importing them.

Every entry point calls `install_hooks()` once before it serves or works:
`create_app` (the API, also `courier-hub serve`), `run_worker` (`courier-hub
worker`) and the CLI commands that write through services. Each registration
is idempotent, so calling it again (tests build many apps) changes nothing.
Importing this module also imports every model (app.models): a process that
never imports app.tenants still needs `tenants` in the metadata, which every
tenant foreign key names.
"""

from __future__ import annotations

import app.models  # noqa: F401  (complete Base.metadata, see above)
from app.analytics import rollups as analytics_rollups
from app.api import support
from app.audit import service as audit
from app.integrations import service as integrations
from app.labels import rules_service as shipping_rules
from app.labels import service as labels
from app.shipments import service as shipments
from app.webhooks import fanout
from app.webhooks import service as webhooks


def install_hooks() -> None:
    """Register every cross-package hook: the webhook outbox (app.events.hooks), shipments
    and labels detaching from a deleted integration (app.integrations.hooks), the usage counters
    billing shows (app.billing.usage: carriers, webhook endpoints), the audit of support access (app.api.support);
    shipments flagged and rule bookings queued from POS order events; the analytics rollup queue (app.analytics.rollups)."""
    fanout.register()
    shipments.register_hooks()
    labels.register_hooks()
    shipping_rules.register_hooks()
    integrations.register_usage()
    webhooks.register_usage()
    support.AUDIT_HOOKS.register(audit.record_support_access)
    analytics_rollups.register_hooks()
