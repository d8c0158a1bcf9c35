"""Reviews: merchant reviews, moderation, the recipient's single-use review link, rate limits, and the aggregates."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import text

from app.analytics import review_links, rollups
from app.core.config import Settings
from tests.analytics.history import add_shipment, track

OCTOBER = {"from": "2026-10-01", "to": "2026-11-01"}


async def delivered_shipment(owner_db: Any, app_db: Any, tenant_id: Any) -> Any:
    shipment_id = await add_shipment(owner_db, tenant_id)
    await track(app_db, tenant_id, shipment_id, [("2026-10-01T12:00:00", "in_transit"), ("2026-10-02T12:00:00", "delivered")])
    return shipment_id


async def test_merchant_review_edit_moderation_and_aggregates(client: Any, make_tenant: Any, owner_db: Any, app_db: Any) -> None:
    tenant = await make_tenant("rev")
    shipment_id = await delivered_shipment(owner_db, app_db, tenant.id)
    pending = await add_shipment(owner_db, tenant.id)
    await rollups.refresh_queued(db=app_db)
    url = f"/v1/shipments/{shipment_id}/reviews"

    r = await client.post(f"/v1/shipments/{pending}/reviews", json={"rating": 5}, headers=tenant.headers())
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (409, "shipment-not-reviewable")
    for bad in ({"rating": 6}, {"rating": 3, "comment": "x" * 2001}, {"rating": 3, "aspects": {"speed": 0}},
                {"rating": 3, "author_kind": "recipient"}):
        r = await client.post(url, json=bad, headers=tenant.headers())
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", bad

    body = {"rating": 4, "comment": "Quick", "aspects": {"speed": 5, "condition": 4, "communication": 3, "courier": 4}}
    r = await client.post(url, json=body, headers=tenant.headers())
    assert r.status_code == 201, r.text
    review = r.json()
    assert (review["author_kind"], review["rating"], review["aspects"], review["carrier"], review["service"]) == (
        "merchant", 4, body["aspects"], "dhl", "express")
    r = await client.post(url, json={"rating": 1}, headers=tenant.headers())
    assert r.status_code == 409 and r.json()["review_id"] == review["id"]

    async with owner_db.transaction() as session:
        events = (await session.execute(text("SELECT type, subject_id FROM integration_events WHERE type = 'review.created'"))).all()
    assert [(e.type, str(e.subject_id)) for e in events] == [("review.created", review["id"])]

    # Edit (merchant), then moderation (tenant admin only).
    r = await client.patch(f"{url}/{review['id']}", json={"rating": 2}, headers=tenant.headers())
    assert (r.status_code, r.json()["rating"], r.json()["comment"]) == (200, 2, "Quick")
    r = await client.patch(f"{url}/{review['id']}", json={"hidden": True}, headers=tenant.headers())
    assert r.status_code == 403 and r.json()["type"].endswith("review-moderation-forbidden")
    r = await client.get("/v1/analytics/carriers", params=OCTOBER, headers=tenant.headers())
    assert (r.json()["groups"][0]["average_rating"], r.json()["groups"][0]["review_count"]) == (2.0, 1)
    r = await client.patch(f"{url}/{review['id']}", json={"hidden": True}, headers=tenant.headers("admin"))
    assert (r.status_code, r.json()["hidden"]) == (200, True)
    r = await client.get("/v1/analytics/carriers", params=OCTOBER, headers=tenant.headers())
    assert (r.json()["groups"][0]["average_rating"], r.json()["groups"][0]["review_count"]) == (None, 0)

    # Listing and filters.
    r = await client.get("/v1/reviews", params={"carrier": "dhl", "rating": 2}, headers=tenant.headers())
    assert [x["id"] for x in r.json()["data"]] == [review["id"]]
    r = await client.get("/v1/reviews", params={"carrier": "ups"}, headers=tenant.headers())
    assert r.json()["data"] == []
    r = await client.get("/v1/reviews", params={"since": "2999-01-01T00:00:00Z"}, headers=tenant.headers())
    assert r.json()["data"] == []
    r = await client.patch(f"{url}/{pending}", json={"rating": 2}, headers=tenant.headers())
    assert r.status_code == 404


async def test_review_link_works_once_then_expires(client: Any, make_tenant: Any, owner_db: Any, app_db: Any, settings: Settings) -> None:
    tenant = await make_tenant("link")
    shipment_id = await delivered_shipment(owner_db, app_db, tenant.id)
    r = await client.post(f"/v1/shipments/{shipment_id}/review-links", headers=tenant.headers())
    assert r.status_code == 201, r.text
    link = r.json()
    path = urlsplit(link["url"]).path
    assert path == f"/v1/public/reviews/{link['token']}"

    # Only the review fields, and no API key needed.
    r = await client.post(path, json={"rating": 5, "shipment_id": str(shipment_id)})
    assert r.status_code == 422
    r = await client.post(path, json={"rating": 1, "comment": "Box crushed", "aspects": {"condition": 1}})
    assert r.status_code == 201, r.text
    assert (r.json()["author_kind"], r.json()["rating"], r.json()["aspects"]["condition"]) == ("recipient", 1, 1)
    r = await client.post(path, json={"rating": 5})
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (410, "review-link-expired")

    # The merchant cannot rewrite the recipient's review, only hide it.
    recipient_review = (await client.get(f"/v1/shipments/{shipment_id}/reviews", headers=tenant.headers())).json()["data"][0]
    r = await client.patch(f"/v1/shipments/{shipment_id}/reviews/{recipient_review['id']}", json={"rating": 5},
                           headers=tenant.headers("admin"))
    assert r.status_code == 403 and r.json()["type"].endswith("review-not-editable")

    # A forged or garbled token is 404; an expired one 410 (signature checked first).
    r = await client.post(f"/v1/public/reviews/{link['token'][:-2]}xx", json={"rating": 5})
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (404, "review-link-not-found")
    r = await client.post("/v1/public/reviews/garbage", json={"rating": 5})
    assert r.status_code == 404
    second = (await client.post(f"/v1/shipments/{shipment_id}/review-links", headers=tenant.headers())).json()
    async with owner_db.transaction() as session:
        await session.execute(text("UPDATE review_links SET expires_at = now() - interval '1 second' WHERE used_at IS NULL"))
    r = await client.post(urlsplit(second["url"]).path, json={"rating": 5})
    assert r.status_code == 410
    claim = review_links.verify(settings=settings, token=second["token"])
    from datetime import timedelta

    expired_token = review_links.sign(settings=settings, tenant_id=claim.tenant_id, link_id=claim.link_id,
                                      expires_at=claim.expires_at - timedelta(days=30))
    r = await client.post(f"/v1/public/reviews/{expired_token}", json={"rating": 5})
    assert r.status_code == 410


async def test_public_reviews_are_rate_limited_per_token_and_address(client: Any) -> None:
    # Garbled tokens still count: the limits apply before the token is checked.
    statuses = [(await client.post("/v1/public/reviews/same-token", json={"rating": 3})).status_code for _ in range(6)]
    assert statuses == [404] * 5 + [429]  # REVIEW_LINK_RATE_LIMIT_PER_TOKEN = 5/hour
    r = await client.post("/v1/public/reviews/same-token", json={"rating": 3})
    assert r.headers["content-type"] == "application/problem+json" and "Retry-After" in r.headers
    assert r.json()["policy"] == "review-link-token"
    statuses = [(await client.post(f"/v1/public/reviews/token-{i}", json={"rating": 3})).status_code for i in range(30)]
    assert statuses.count(429) == 7  # 30/hour per address: 7 used above, so 23 more pass and 7 are refused
    assert (await client.post("/v1/public/reviews/token-x", json={"rating": 3})).json()["policy"] == "review-link-address"
