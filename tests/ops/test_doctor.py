"""`courier-hub doctor`'s configuration checks: keys vs stored secrets, Redis, Stripe for priced plans, the worker's heartbeat."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import app as cli
from app.core.config import get_settings
from app.doctor import Check, run_config_checks

FEDEX = {"client_id": "fx-client-7Hq2", "client_secret": "fx-SECRET-9f8e7d6c5b4a", "account_number": "740561073"}


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


@pytest.fixture
def quiet(settings):
    """The session settings with nothing optional configured (no Redis, no worker port)."""
    return settings.model_copy(update={"redis_url": None, "worker_health_port": 0})


async def _integration(client, make_tenant) -> None:
    acme = await make_tenant("acme")
    body = {"carrier": "fedex", "credentials": FEDEX, "environment": "sandbox"}
    assert (await client.post("/v1/integrations", json=body, headers=acme.headers("admin"))).status_code == 201


async def test_the_keys_decrypt_stored_credentials(client, make_tenant, quiet, owner_url) -> None:
    await _integration(client, make_tenant)
    check = by_name(await run_config_checks(quiet, owner_url))["encryption keys decrypt stored secrets"]
    assert check.ok and not check.skipped and "1 sampled secret(s) decrypt" in check.detail


async def test_a_wrong_key_is_a_failure_naming_the_secret(client, make_tenant, quiet, owner_url, owner_db) -> None:
    await _integration(client, make_tenant)
    wrong = quiet.model_copy(update={"credentials_encryption_keys": SecretStr(Fernet.generate_key().decode())})
    check = by_name(await run_config_checks(wrong, owner_url))["encryption keys decrypt stored secrets"]
    async with owner_db.transaction() as session:
        integration_id = (await session.execute(text("SELECT id::text FROM integrations"))).scalar_one()
    assert not check.ok and f"integration {integration_id}" in check.detail
    # The old key behind a new one (rotation in progress) still reads it.
    rotating = quiet.model_copy(
        update={
            "credentials_encryption_keys": SecretStr(
                f"{Fernet.generate_key().decode()},{quiet.credentials_encryption_keys.get_secret_value()}"
            )
        }
    )
    assert by_name(await run_config_checks(rotating, owner_url))["encryption keys decrypt stored secrets"].ok


async def test_no_key_with_stored_credentials_fails(client, make_tenant, quiet, owner_url) -> None:
    await _integration(client, make_tenant)
    keyless = quiet.model_copy(update={"credentials_encryption_keys": None})
    assert not by_name(await run_config_checks(keyless, owner_url))["encryption keys decrypt stored secrets"].ok


async def test_nothing_stored_is_a_skip(quiet, owner_url, owner_db) -> None:
    check = by_name(await run_config_checks(quiet, owner_url))["encryption keys decrypt stored secrets"]
    assert check.ok and check.skipped


async def test_redis_is_checked_only_when_configured(quiet, owner_url) -> None:
    assert by_name(await run_config_checks(quiet, owner_url))["Redis answers"].skipped
    down = quiet.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    check = by_name(await run_config_checks(down, owner_url, timeout_seconds=1))["Redis answers"]
    assert not check.ok and not check.skipped and "PING" in check.detail


@pytest.fixture
async def priced_plan(owner_db) -> Iterator[None]:
    async with owner_db.transaction() as session:
        await session.execute(text("UPDATE plans SET stripe_price_id = 'price_doctor_test' WHERE code = 'starter'"))
    yield
    async with owner_db.transaction() as session:  # plans survive the per-test truncation
        await session.execute(text("UPDATE plans SET stripe_price_id = NULL WHERE stripe_price_id = 'price_doctor_test'"))


async def test_stripe_must_be_configured_when_a_plan_has_a_price(quiet, owner_url, priced_plan) -> None:
    check = by_name(await run_config_checks(quiet, owner_url))["Stripe configured for priced plans"]
    assert not check.ok and "starter" in check.detail and "STRIPE_API_KEY" in check.detail
    configured = quiet.model_copy(update={"stripe_api_key": SecretStr("sk_test_x"), "stripe_webhook_secret": SecretStr("whsec_x")})
    assert by_name(await run_config_checks(configured, owner_url))["Stripe configured for priced plans"].ok


async def test_no_priced_plan_needs_no_stripe(quiet, owner_url, owner_db) -> None:
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM plans WHERE stripe_price_id IS NOT NULL"))).scalar_one() == 0
    assert by_name(await run_config_checks(quiet, owner_url))["Stripe configured for priced plans"].ok


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b'{"status": "ok"}' if self.status == 200 else b'{"status": "stale"}'
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def worker_health() -> Iterator[tuple[int, type[_Health]]]:
    """A stand-in for the worker's health port (its /healthz), on a free local port."""
    handler = type("Health", (_Health,), {"status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()


async def test_worker_heartbeat_alive_stale_and_unknown(quiet, owner_url, worker_health) -> None:
    port, handler = worker_health
    settings = quiet.model_copy(update={"worker_health_port": port, "metrics_host": "127.0.0.1"})
    alive = by_name(await run_config_checks(settings, owner_url))["worker heartbeat"]
    assert alive.ok and not alive.skipped and "200" in alive.detail
    handler.status = 503
    stale = by_name(await run_config_checks(settings, owner_url))["worker heartbeat"]
    assert not stale.ok and "503" in stale.detail and "stale" in stale.detail
    off = by_name(await run_config_checks(quiet, owner_url))["worker heartbeat"]
    assert off.ok and off.skipped and "unknown" in off.detail


async def test_doctor_prints_the_new_checks(owner_url, monkeypatch, owner_db) -> None:
    monkeypatch.setenv("DATABASE_URL", owner_url.render_as_string(hide_password=False))
    monkeypatch.setenv("WORKER_HEALTH_PORT", "0")
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["doctor"])
    finally:
        get_settings.cache_clear()
    assert "[SKIP] worker heartbeat: unknown" in result.output
    assert "[SKIP] Redis answers" in result.output
    assert "Stripe configured for priced plans" in result.output
    assert result.exit_code == 0, result.output
