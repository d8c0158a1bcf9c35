"""The courier-hub CLI: migrate, doctor (pass and fail), create-admin-key, revoke-admin-key."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner
import asyncio

from app.cli import app as cli
from app.core.config import get_settings


async def invoke(*args: str):
    """Run the CLI in a worker thread: its commands run their own event loop."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


@pytest.fixture
def use_database(monkeypatch):
    def use(url) -> None:
        monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


async def test_doctor_fails_before_migrations_and_passes_after(create_database, use_database):
    url = await create_database()
    use_database(url)
    before = (await invoke("doctor"))
    assert before.exit_code == 1
    assert "[FAIL] migrations at head" in before.output

    assert (await invoke("migrate")).exit_code == 0
    after = (await invoke("doctor"))
    assert after.exit_code == 0, after.output
    for check in ("database reachable", "migrations at head", "RLS enabled and forced", "app role cannot bypass RLS"):
        assert f"[PASS] {check}" in after.output
    assert "Citus" not in after.output  # plain PostgreSQL: no distribution checks

    refused = await invoke("citus", "distribute")
    assert refused.exit_code == 2
    assert "the citus extension is not installed" in refused.output


async def test_doctor_flags_a_tenant_table_without_forced_rls(create_database, use_database):
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    url = await create_database()
    use_database(url)
    assert (await invoke("migrate")).exit_code == 0
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE pos_orders NO FORCE ROW LEVEL SECURITY"))
    await engine.dispose()
    result = (await invoke("doctor"))
    assert result.exit_code == 1
    assert "missing on: pos_orders" in result.output


async def test_create_admin_key_prints_a_working_key(owner_url, use_database, client):
    use_database(owner_url)
    result = await invoke("create-admin-key", "--name", "ops")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[0]
    assert key.startswith("chub_")
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["role"] == "platform_admin" and me.json()["key_name"] == "ops"


async def test_revoke_admin_key_stops_the_key(owner_url, use_database, client):
    use_database(owner_url)
    key = (await invoke("create-admin-key", "--name", "leaving")).stdout.strip().splitlines()[0]
    prefix = "_".join(key.split("_")[:2])
    assert (await client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})).status_code == 200

    revoked = await invoke("revoke-admin-key", "--prefix", prefix)
    assert revoked.exit_code == 0, revoked.output

    assert (await client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})).status_code == 401
    again = await invoke("revoke-admin-key", "--prefix", prefix)
    assert again.exit_code == 1 and "no active platform-admin key" in again.output
    # Both CLI actions are in the platform audit log, by the system (no key acted).
    other = (await invoke("create-admin-key", "--name", "reader")).stdout.strip().splitlines()[0]
    log = await client.get("/v1/audit-log?target_type=admin_key", headers={"Authorization": f"Bearer {other}"})
    assert log.status_code == 200, log.text
    actions = [(e["action"], e["actor"]["role"]) for e in log.json()["data"]]
    assert actions[:3] == [("admin_key.created", "system"), ("admin_key.revoked", "system"), ("admin_key.created", "system")]


async def test_doctor_fails_when_a_tenant_table_lost_its_tenant_policy(create_database, use_database):
    """Another policy on the table (the worker's claim policy) must not hide a missing tenant_isolation policy."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    url = await create_database()
    use_database(url)
    assert (await invoke("migrate")).exit_code == 0
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as conn:
        await conn.execute(text("DROP POLICY tenant_isolation ON webhook_deliveries"))
    await engine.dispose()

    result = await invoke("doctor")
    assert result.exit_code == 1
    assert "[FAIL] RLS enabled and forced" in result.output and "webhook_deliveries" in result.output
