"""The console's Overview analytics, Analytics page (group-by, CSV, chart, late list) and Reviews (httpx in-process)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text

from app.console.pages import orders as order_pages
from tests.console.helpers import csrf_of, sign_in
from tests.console.seed import ago, recent_history


async def test_overview_and_analytics_show_the_services_figures_for_the_tenant_only(
    client: Any, make_tenant: Any, owner_db: Any, app_db: Any, monkeypatch: Any
) -> None:
    acme, other = await make_tenant("acme"), await make_tenant("other")
    ids = await recent_history(owner_db, app_db, acme.id, "A")
    await recent_history(owner_db, app_db, other.id, "B")
    await sign_in(client, acme.merchant)

    overview = (await client.get("/console/overview")).text
    assert "Analytics not available" not in overview
    late = re.search(r'id="late-shipments">.*?</section>', overview, re.S).group(0)
    assert "Late shipments <small class=\"muted\">2</small>" in late
    assert f'href="/console/shipments/{ids["late"]}">ALATE</a>' in late and "AUPSLATE" in late
    assert "ONTIME" not in late and "BLATE" not in overview  # not late; another tenant's
    assert re.search(r">dhl</a></td><td class=\"r\">50.0 %</td><td class=\"r\">2</td>", overview)
    assert re.search(r">ups</a></td><td class=\"r\">0.0 %</td><td class=\"r\">1</td>", overview)
    chart = await client.get("/console/overview/on-time-by-carrier.svg")
    assert chart.headers["content-type"].startswith("image/svg+xml") and b"<script" not in chart.content
    assert b"50%" in chart.content.replace(b" ", b"") and b"dhl" in chart.content

    period = {"from": ago(30)[:10], "to": ago(-1)[:10]}
    query = [("group_by", "carrier"), ("group_by", "destination_country"), *period.items()]
    page = await client.get("/console/analytics", params=query)
    assert page.status_code == 200
    table = re.search(r'id="carriers-table">.*?</table>', page.text, re.S).group(0)
    rows = re.findall(r"<tr>\s*(.*?)</tr>", table.split("<tbody>")[1], re.S)
    cells = [re.findall(r'data-label="([^"]+)"><div>(.*?)</div></td>', row, re.S) for row in rows]
    assert [(c[0][1], c[1][1], c[2][1], c[5][1].split(" <small")[0]) for c in cells] == [("dhl", "SE", "2", "50.0 %"), ("ups", "DK", "1", "0.0 %")]
    assert ("Transit p50", "25.0 h") in cells[1] and ("Label → scan", "1.0 h") in cells[1]  # first scan to delivery; hours
    assert 'value="destination_country" checked' in page.text and 'value="service">' in page.text
    assert "BLATE" not in page.text and "ALATE" in page.text

    csv_link = re.search(r'id="csv-export" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    exported = await client.get(csv_link)
    api = await client.get("/v1/analytics/carriers", params=[*query, ("format", "csv")], headers=acme.headers())
    assert exported.status_code == api.status_code == 200 and exported.text == api.text
    assert exported.text.startswith("carrier,destination_country,shipments,")
    assert exported.headers["content-disposition"] == api.headers["content-disposition"]
    transit = await client.get("/console/analytics/chart.svg", params=[*query, ("chart", "transit")])
    assert b"p90" in transit.content and b"<script" not in transit.content

    for bad in ([("group_by", "colour")], [("from", "yesterday")], [("from", "2026-05-01"), ("to", "2026-04-01")]):
        refused = await client.get("/console/analytics", params=bad)
        assert refused.status_code == 422 and "text/html" in refused.headers["content-type"], bad
    assert "Unknown group_by: colour" in (await client.get("/console/analytics?group_by=colour")).text

    monkeypatch.setattr(order_pages, "PAGE_SIZE", 1)  # the late list pages, one a page
    first = (await client.get("/console/analytics", params=query)).text
    next_link = re.search(r'class="pager"><a class="button ghost" href="([^"#]+)', first).group(1).replace("&amp;", "&")
    second = (await client.get("/console/analytics" + next_link)).text
    late_of = lambda html: re.findall(r">(A\w*LATE)</a>", html.split('id="late"')[1])  # noqa: E731
    assert len(late_of(first)) == len(late_of(second)) == 1 and set(late_of(first) + late_of(second)) == {"ALATE", "AUPSLATE"}
    assert 'class="pager"' not in second.split('id="late"')[1]
    assert "group_by=destination_country" in next_link  # the groups survive paging


async def test_reviews_list_moderation_merchant_review_and_link(client: Any, make_tenant: Any, owner_db: Any, app_db: Any) -> None:
    acme, other = await make_tenant("acme"), await make_tenant("other")
    ids = await recent_history(owner_db, app_db, acme.id, "A")
    theirs = await recent_history(owner_db, app_db, other.id, "B")
    r = await client.post(f"/v1/shipments/{theirs['late']}/reviews", json={"rating": 1, "comment": "THEIR SECRET"}, headers=other.headers())
    assert r.status_code == 201
    their_review = r.json()["id"]
    shipment_url = f"/console/shipments/{ids['late']}"

    # A merchant reads, cannot write or moderate.
    await sign_in(client, acme.merchant)
    page = await client.get(shipment_url)
    assert "No reviews yet." in page.text and 'id="merchant-review"' not in page.text and "review-links" not in page.text
    token = csrf_of(page.text)
    refused = await client.post(f"{shipment_url}/reviews", data={"csrf_token": token, "rating": "5"})
    assert refused.status_code == 403
    assert (await client.post(f"{shipment_url}/review-links", data={"csrf_token": token})).status_code == 403

    # A tenant admin writes the merchant's review (validated as the API), and makes a recipient link.
    client.cookies.clear()
    await sign_in(client, acme.admin)
    page = await client.get(shipment_url)
    token = csrf_of(page.text)
    assert 'id="merchant-review"' in page.text
    invalid = await client.post(f"{shipment_url}/reviews", data={"csrf_token": token, "rating": "6", "comment": "x"})
    assert invalid.status_code == 422 and "rating: Input should be less than or equal to 5" in invalid.text
    assert (await client.post(f"{shipment_url}/reviews", data={"rating": "4"})).status_code == 403  # no CSRF token
    saved = await client.post(
        f"{shipment_url}/reviews", data={"csrf_token": token, "rating": "4", "comment": "Quick and careful", "aspect_speed": "5"}
    )
    assert saved.status_code == 303
    page = await client.get(shipment_url)
    assert "Quick and careful" in page.text and "speed 5/5" in page.text and 'id="merchant-review"' not in page.text
    again = await client.post(f"{shipment_url}/reviews", data={"csrf_token": token, "rating": "2"})
    assert again.status_code == 409 and "already has a merchant review" in again.text
    pending = await client.post(f"/console/shipments/{ids['pending']}/review-links", data={"csrf_token": token})
    assert pending.status_code == 409 and "can be reviewed once delivered" in pending.text
    linked = await client.post(f"{shipment_url}/review-links", data={"csrf_token": token})
    assert linked.status_code == 200 and linked.headers["cache-control"] == "no-store"
    url = re.search(r'<code id="review-link" class="mono">([^<]+)</code>', linked.text).group(1)
    assert 'data-copy="#review-link"' in linked.text
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert (await client.post(f"/{path}", json={"rating": 2, "comment": "Late!"})).status_code == 201
    assert "review-link" not in (await client.get(shipment_url)).text.split('id="reviews"')[1].split("<table")[0]  # shown once

    # The list: both reviews of this tenant, never the other's; filters as GET /v1/reviews.
    listing = (await client.get("/console/reviews")).text
    assert "Quick and careful" in listing and "Late!" in listing and "THEIR SECRET" not in listing
    assert listing.count(">Hide</button>") == 2
    assert "Late!" not in (await client.get("/console/reviews", params={"rating": "4"})).text
    assert "Quick and careful" not in (await client.get("/console/reviews", params={"carrier": "ups"})).text
    assert "Quick" not in (await client.get("/console/reviews", params={"since": ago(-1)[:10]})).text
    assert (await client.get("/console/reviews", params={"since": "soon"})).status_code == 422

    async with owner_db.transaction() as session:
        recipient = (await session.execute(
            text("SELECT id FROM shipment_reviews WHERE tenant_id = :t AND author_kind = 'recipient'"), {"t": acme.id}
        )).scalar_one()
    moderate = f"{shipment_url}/reviews/{recipient}/moderate"
    assert (await client.post(moderate, data={"hidden": "true"})).status_code == 403  # no CSRF token
    hidden = await client.post(moderate, data={"csrf_token": token, "hidden": "true", "back": "/console/reviews?carrier=dhl"})
    assert hidden.status_code == 303 and hidden.headers["location"].startswith("/console/reviews?carrier=dhl&notice=")
    assert "Late!" in (await client.get("/console/reviews", params={"hidden": "true"})).text
    assert "Late!" not in (await client.get("/console/reviews", params={"hidden": "false"})).text
    api = await client.get("/v1/analytics/carriers", params={"group_by": "carrier", "from": ago(30)[:10]}, headers=acme.headers())
    dhl = next(g for g in api.json()["groups"] if g["key"]["carrier"] == "dhl")
    assert (dhl["review_count"], dhl["average_rating"]) == (1, 4.0)  # the hidden review counts in no figure
    elsewhere = await client.post(
        f"/console/shipments/{theirs['late']}/reviews/{their_review}/moderate", data={"csrf_token": token, "hidden": "true"}
    )
    assert elsewhere.status_code == 404  # another tenant's review: RLS and the tenant filter find nothing
    assert (await client.post(moderate, data={"csrf_token": token, "hidden": "maybe"})).status_code == 422

    # A merchant may not moderate, and sees no button.
    client.cookies.clear()
    await sign_in(client, acme.merchant)
    listing = await client.get("/console/reviews")
    assert ">Hide</button>" not in listing.text and ">Show</button>" not in listing.text and "Late!" in listing.text
    refused = await client.post(moderate, data={"csrf_token": csrf_of(listing.text), "hidden": "false"})
    assert refused.status_code == 403
    async with owner_db.transaction() as session:
        flags = (await session.execute(text("SELECT hidden FROM shipment_reviews WHERE id = :id"), {"id": recipient})).scalar_one()
        theirs_hidden = (await session.execute(text("SELECT hidden FROM shipment_reviews WHERE id = :id"), {"id": their_review})).scalar_one()
    assert flags is True and theirs_hidden is False
