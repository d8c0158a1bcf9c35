"""Hostile console forms: a refusal is a 4xx page and changes nothing (API keys, webhooks, batch uploads, admin)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.console.helpers import csrf_of, sign_in


async def _count(owner_db: Any, table: str) -> int:
    async with owner_db.transaction() as session:
        return (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()


@pytest.mark.parametrize(
    "form",
    [
        {"name": "till", "role": "platform_admin"},
        {"name": "   ", "role": "merchant"},
        {"name": "till", "role": "merchant", "expires_at": "2001-01-01T00:00"},
        {"name": "till", "role": "merchant", "expires_at": "tomorrow"},
    ],
)
async def test_a_refused_api_key_form_is_422_and_issues_no_key(client: Any, make_tenant: Any, owner_db: Any, form: dict) -> None:
    tenant = await make_tenant("acme")
    await sign_in(client, tenant.admin)
    token = csrf_of((await client.get("/console/api-keys")).text)
    before = await _count(owner_db, "api_keys")
    page = await client.post("/console/api-keys", data={**form, "csrf_token": token})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "shown only once" not in page.text
    assert await _count(owner_db, "api_keys") == before


@pytest.mark.parametrize("url", ["http://127.0.0.1/hook", "ftp://shop.example/hook", "not a url"])
async def test_a_refused_webhook_form_is_4xx_and_stores_nothing(client: Any, make_tenant: Any, owner_db: Any, url: str) -> None:
    tenant = await make_tenant("acme")
    await sign_in(client, tenant.admin)
    token = csrf_of((await client.get("/console/webhooks")).text)
    page = await client.post("/console/webhooks", data={"url": url, "event_types": "*", "csrf_token": token})
    assert 400 <= page.status_code < 500 and page.headers["content-type"].startswith("text/html"), page.status_code
    assert await _count(owner_db, "webhook_endpoints") == 0


async def test_forms_without_csrf_or_with_broken_multipart_change_nothing(
    client: Any, make_tenant: Any, owner_db: Any, admin_key: str
) -> None:
    tenant, victim = await make_tenant("acme"), await make_tenant("victim")
    await sign_in(client, admin_key)
    token = csrf_of((await client.get(f"/console/admin/tenants/{victim.id}")).text)
    status = f"/console/admin/tenants/{victim.id}/status"
    refused = [
        await client.post(status, data={"status": "suspended", "confirm": "yes"}),
        await client.post(status, data={"status": "suspended", "confirm": "yes", "csrf_token": "forged"}),
        await client.post(status, json={"status": "suspended", "confirm": "yes"}, headers={"X-CSRF-Token": "forged"}),
        # The token inside a multipart body that never ends: the form cannot be read.
        await client.post(status, content=b'--xx\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + token.encode(),
                          headers={"Content-Type": "multipart/form-data; boundary=xx"}),
        await client.post(status, content=b"garbage", headers={"Content-Type": "multipart/form-data"}),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403, 400]
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT status FROM tenants WHERE id = :t"), {"t": victim.id})).scalar_one() == "active"

    client.cookies.clear()
    await sign_in(client, tenant.admin)
    token = csrf_of((await client.get("/console/labels/batches/new")).text)
    broken = await client.post(
        "/console/labels/batches/new",
        content=b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nrecipient_name,country\r\nAnn,SE',
        headers={"Content-Type": "multipart/form-data; boundary=xx", "X-CSRF-Token": token},
    )
    binary = await client.post("/console/labels/batches/new", files={"file": ("a.csv", b"\xff\xfe\x00\x00=cmd")},
                               data={"carrier": "fedex", "service": "FEDEX_GROUND", "csrf_token": token})
    assert (broken.status_code, binary.status_code) == (422, 422)
    assert await _count(owner_db, "label_batches") == 0
