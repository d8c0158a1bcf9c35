"""The FastAPI application: `create_app()` wires settings, middleware, routers and the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.metrics import start_observability
from app.api.setup import install_pipeline
from app.analytics.rates_router import router as rates_router
from app.analytics.reviews_router import router as reviews_router
from app.analytics.router import router as analytics_router
from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.billing.router import plans_router
from app.billing.router import router as billing_router
from app.billing.router import router_overrides as plan_overrides_router
from app.billing.setup import install_billing
from app.core.config import Settings, get_settings
from app.core.db.session import Database, check_connection_budget
from app.core.problems import install_problem_handlers
from app.core.requestid import configure_logging
from app.carriers.http import aclose_carrier_http
from app.console.router import install_console
from app.events.router import router as events_router
from app.health import router as health_router
from app.carriers.router import router as carriers_router
from app.integrations.router import router as integrations_router
from app.labels.batch_router import router as label_batches_router
from app.labels.router import router as labels_router
from app.locations.router import addresses_router, service_points_router
from app.labels.rules_router import router as shipping_rules_router
from app.pos.connection_router import router as pos_connections_router
from app.pos.router import router as pos_router
from app.privacy.router import router as privacy_router
from app.shipments.inbound_router import operator_router as inbound_webhooks_router
from app.shipments.inbound_router import router as inbound_router
from app.shipments.router import router as shipments_router
from app.tenants.router import router as tenants_router
from app.webhooks.router import deliveries_router as webhook_deliveries_router
from app.webhooks.router import router as webhook_endpoints_router
from app.wiring import install_hooks


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API. `settings` defaults to the process settings (DATABASE_URL must be set)."""
    settings = settings or get_settings()
    install_hooks()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database.from_settings(settings)
        await check_connection_budget(app.state.db, settings, processes=settings.web_concurrency)  # warns only
        metrics_server = start_observability(app, settings)  # METRICS_PORT, pool gauge, DB spans (app.api.metrics)
        try:
            yield
        finally:
            if metrics_server is not None:
                metrics_server.stop()
            await app.state.db.dispose()
            await aclose_carrier_http()
            await app.state.stripe.aclose()

    app = FastAPI(
        title="courier-hub",
        version="0.1.0",
        description="Multi-tenant courier integration: POS order ingestion, carriers, labels, tracking, webhooks.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc are served offline by app.api.docs (install_pipeline)
        redoc_url=None,
    )
    install_billing(app, settings)
    install_problem_handlers(app)
    install_pipeline(app, settings)
    for router in (
        health_router,
        tenants_router,
        plan_overrides_router,
        auth_router,
        audit_router,
        privacy_router,
        pos_connections_router,
        pos_router,
        events_router,
        carriers_router,
        integrations_router,
        shipments_router,
        labels_router,
        label_batches_router,
        shipping_rules_router,
        service_points_router,
        addresses_router,
        plans_router,
        billing_router,
        webhook_endpoints_router,
        webhook_deliveries_router,
        inbound_router,
        inbound_webhooks_router,
        analytics_router,
        reviews_router,
        rates_router,
    ):
        app.include_router(router)
    install_console(app)  # /console pages and static files; HTML error pages under /console (app.console.router)
    return app


def app_factory() -> FastAPI:
    """Uvicorn factory (`uvicorn --factory app.main:app_factory`): logging plus `create_app()`.

    Like `courier-hub serve`, refuses settings unsafe for ENVIRONMENT=production: one line on
    stderr, exit code 2 (`Settings.production_problems`).
    """
    settings = get_settings()
    problems = settings.production_problems()
    if problems:
        import sys

        print(f"courier-hub: refusing to start with ENVIRONMENT=production: {'; '.join(problems)}", file=sys.stderr)
        raise SystemExit(2)
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
