"""What held in the fault runs: concurrent ingests while the database drops connections lose and duplicate nothing.

Each client retries with its Idempotency-Key on 503 (connection lost) and 409
(in flight), as a well-behaved client does; the app's sessions are
terminated several times meanwhile (as a PostgreSQL restart would).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text

from tests.conftest import client_of, running_app

PATH = "/v1/pos/generic/ingest"
ORDERS = 120


APPLICATION_NAME = "courier-hub-fault-test"
"""Marks this app's own sessions, so only they are terminated (other tests' pools are left alone)."""


@pytest.fixture
async def unlimited_client(settings, owner_db):
    """A client of an app without rate limits (120 clients retrying on one key would hit the plan's limit)."""
    async with running_app(settings.model_copy(update={"rate_limit_enabled": False})) as application:
        await application.state.db.dispose()  # connections made from here on carry APPLICATION_NAME

        @event.listens_for(application.state.db.engine.sync_engine, "connect")
        def _name(dbapi_connection, _record) -> None:  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET application_name = '{APPLICATION_NAME}'")
            cursor.close()

        async with client_of(application) as c:
            yield c


async def test_no_order_is_lost_or_duplicated_while_connections_drop(unlimited_client, make_tenant, owner_db):
    client = unlimited_client
    tenant = await make_tenant("acme")
    statuses: list[int] = []

    async def ingest(n: int) -> None:
        body = {"external_id": f"F-{n}", "currency": "EUR", "total": 100 + n}
        headers = tenant.headers(**{"Idempotency-Key": f"fault-{n}"})
        for _ in range(100):
            response = await client.post(PATH, json=body, headers=headers)
            statuses.append(response.status_code)
            if response.status_code in (200, 201):
                return
            assert response.status_code in (409, 503), response.text
            await asyncio.sleep(0.02)
        raise AssertionError(f"order {n} never went through")

    async def drop_connections() -> None:
        for _ in range(4):
            await asyncio.sleep(0.15)
            async with owner_db.transaction() as session:
                await session.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        f"WHERE application_name = '{APPLICATION_NAME}' AND datname = current_database()"
                    )
                )

    await asyncio.gather(drop_connections(), *(ingest(n) for n in range(ORDERS)))

    assert 500 not in statuses and 503 in statuses, sorted(set(statuses))  # the faults did happen, and never as a 500
    async with owner_db.transaction() as session:
        orders = (await session.execute(text("SELECT count(*), count(DISTINCT external_id) FROM pos_orders"))).one()
        events = (await session.execute(text("SELECT count(*) FROM integration_events WHERE subject_type = 'pos_order'"))).scalar_one()
        keys = (await session.execute(text("SELECT count(*) FROM idempotency_keys"))).scalar_one()
    assert tuple(orders) == (ORDERS, ORDERS)
    assert events == ORDERS and keys == ORDERS
