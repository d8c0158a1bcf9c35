"""POST /v1/labels with arbitrary bodies: always a 4xx problem, never a carrier call, never a stored label."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import respx
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.labels.test_labels import SHIP, booking, connect, sample, serve_token

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
PATHS = [
    ("carrier",), ("service",), ("label_format",), ("parcels",), ("ship_date",), ("customs",), ("order_id",),
    ("recipient", "country"), ("recipient", "address_lines"), ("recipient", "phone"), ("shipper", "postal_code"),
    ("shipper",), ("recipient",), ("integration_id",), ("reference",), ("service_point_id",),
]


def mutate(body: dict[str, Any], path: tuple[str, ...], value: Any, drop: bool) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    node = changed
    for part in path[:-1]:
        node = node[part]
    if drop:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return changed


async def _labels(owner_db) -> int:
    async with owner_db.transaction() as session:
        return (await session.execute(text("SELECT count(*) FROM labels"))).scalar_one()


@hyp_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), value=JSON, drop=st.booleans())
async def test_a_broken_booking_is_refused_before_any_carrier_call(client, make_tenant, owner_db, path, value, drop):
    tenant = getattr(client, "_labels_fuzz_tenant", None)
    if tenant is None:
        tenant = await make_tenant("labels-fuzz")
        await connect(client, tenant)
        client._labels_fuzz_tenant = tenant
    body = mutate(booking(), path, value, drop)
    before = await _labels(owner_db)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        response = await client.post("/v1/labels", json=body, headers=tenant.headers(**{"Idempotency-Key": str(uuid.uuid4())}))
    assert response.status_code < 500, response.text
    if response.status_code == 201:  # the mutation kept the booking valid (e.g. another reference): booked once
        assert ship.call_count == 1
        return
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json", response.text
    assert ship.call_count == 0, (body, response.text)
    assert await _labels(owner_db) == before
