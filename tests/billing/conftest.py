"""Billing fixtures: an app with Stripe configured (Stripe itself replaced by respx), seeded plans with test prices."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr
from sqlalchemy import text

from app.core.config import Settings
from tests.billing.stripe_fixtures import PRICE_GROWTH, PRICE_STARTER, STRIPE_API, WEBHOOK_SECRET
from tests.conftest import REPO_ROOT
from tests.conftest import client_of, running_app


def _seed_plans() -> list[dict[str, Any]]:
    path = REPO_ROOT / "migrations" / "versions" / "2026_11_21_0003_billing.py"
    spec = importlib.util.spec_from_file_location("billing_migration", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SEED_PLANS


SEED_PLANS = _seed_plans()
TEST_PRICES = {"starter": PRICE_STARTER, "growth": PRICE_GROWTH}

_UPSERT = text(
    """
    INSERT INTO plans (code, name, stripe_price_id, requests_per_minute_per_key, requests_per_minute_per_tenant,
                       shipments_per_month, webhook_endpoints, carriers, sort_order)
    VALUES (:code, :name, :stripe_price_id, :requests_per_minute_per_key, :requests_per_minute_per_tenant,
            :shipments_per_month, :webhook_endpoints, :carriers, :sort_order)
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, stripe_price_id = EXCLUDED.stripe_price_id,
        requests_per_minute_per_key = EXCLUDED.requests_per_minute_per_key,
        requests_per_minute_per_tenant = EXCLUDED.requests_per_minute_per_tenant,
        shipments_per_month = EXCLUDED.shipments_per_month, webhook_endpoints = EXCLUDED.webhook_endpoints,
        carriers = EXCLUDED.carriers, sort_order = EXCLUDED.sort_order
    """
)


async def set_plans(owner_db, *, prices: dict[str, str] | None = None) -> None:
    """Reset the seeded plans to the migration's values (with `prices`) and drop any other plan."""
    prices = prices or {}
    async with owner_db.transaction() as session:
        await session.execute(text("UPDATE plans SET stripe_price_id = NULL"))
        for plan in SEED_PLANS:
            await session.execute(_UPSERT, {**plan, "stripe_price_id": prices.get(plan["code"])})
        codes = [p["code"] for p in SEED_PLANS]
        await session.execute(
            text("UPDATE tenant_subscriptions SET plan_code = 'free', subscribed_plan_code = NULL WHERE plan_code <> ALL(:c) OR subscribed_plan_code <> ALL(:c)"),
            {"c": codes},
        )
        await session.execute(text("DELETE FROM plans WHERE code <> ALL(:c)"), {"c": codes})


@pytest.fixture(autouse=True)
async def seeded_plans(owner_db) -> AsyncIterator[None]:
    """Seeded plans, starter and growth purchasable at the test prices; restored to the seed afterwards."""
    await set_plans(owner_db, prices=TEST_PRICES)
    yield
    await set_plans(owner_db)


@pytest.fixture(scope="session")
def billing_settings(settings: Settings) -> Settings:
    """The test settings plus a Stripe test key and webhook secret (Stripe is never called: respx)."""
    return settings.model_copy(
        update={
            "stripe_api_key": SecretStr("sk_test_courier_hub_not_a_real_key"),
            "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
            "stripe_max_network_retries": 0,
            "billing_past_due_grace_seconds": 3 * 24 * 3600,
        }
    )


@pytest.fixture(scope="session")
async def billing_app(billing_settings: Settings) -> AsyncIterator[Any]:
    """An app whose settings have Stripe configured, lifespan running."""
    async with running_app(billing_settings) as application:
        yield application


@pytest.fixture
async def bclient(billing_app: Any, owner_db) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `billing_app`, with its rate-limit counts and plan cache reset."""
    async with client_of(billing_app) as c:
        yield c


@pytest.fixture(autouse=True)
def stripe_api() -> Any:
    """respx standing in for Stripe's API (https://api.stripe.com) in every billing test.

    Autouse, so no billing test can reach Stripe: a call no route matches fails
    (the SDK reports a connection error, the API a 502).
    """
    with respx.mock(base_url=STRIPE_API, assert_all_called=False) as mock:
        yield mock
