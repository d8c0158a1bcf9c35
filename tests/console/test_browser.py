"""The console in a real Chromium (Playwright): what a tenant admin, a merchant and a platform admin do there.

The browser talks to the API served by uvicorn (tests/console/conftest.py); FedEx
is the local stand-in of tests/console/standin.py; webhook receivers are the
verifying local receiver of the webhook tests. Each test saves screenshots of the
pages it visits, at 1280 px and 390 px, under artifacts/console/.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re

from pypdf import PdfReader

from tests.conftest import shared_sample
from tests.console.conftest import shoot, sign_in
from tests.console.seed import recent_history
from tests.webhooks.helpers import drain
from tests.webhooks.receiver import Receiver

FEDEX_CREDENTIALS = {"client_id": "fx-client", "client_secret": "fx-secret-value", "account_number": "740561073"}
SHIPPER = {"name": "Ada Shipper", "company": "Acme Inc", "line1": "10 Fed Ex Pkwy", "city": "Memphis", "postal_code": "38115",
           "state": "TN", "country": "US", "phone": "9015551234"}

async def fill_address(page, prefix: str, values: dict[str, str]) -> None:
    for field, value in values.items():
        await page.fill(f"[name={prefix}_{field}]", value)


async def connect_fedex(page) -> None:
    """Connect FedEx through the generated credentials form (as a tenant admin already signed in)."""
    await page.goto("/console/carriers/connect/fedex")
    for field, value in FEDEX_CREDENTIALS.items():
        await page.fill(f"input[name={field}]", value)
    await page.click("form.card button[type=submit]")
    await page.wait_for_selector("#secret-value")


async def test_sign_in_connect_fedex_book_a_label_and_download_it(page, console_server, make_tenant, client):
    acme = await make_tenant("acme")
    raw = shared_sample("pos-samples", "shopify", "orders-create.test-notification.json").read_bytes()
    ingested = await client.post("/v1/pos/shopify/ingest", content=raw, headers=acme.headers(**{"Idempotency-Key": "o-1", "Content-Type": "application/json"}))
    assert ingested.status_code == 201

    await page.goto("/console/overview")
    assert "/console/sign-in" in page.url  # not signed in: sent to the form
    await shoot(page, "sign-in")
    await sign_in(page, acme.admin)
    assert page.url.endswith("/console/overview")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["chub_console"]["httpOnly"] and cookies["chub_console"]["sameSite"] == "Lax"
    assert acme.admin not in str(await page.context.cookies())
    assert await page.evaluate("document.cookie") == ""  # nothing readable by scripts

    # Carriers: the credentials form is generated from FedEx's JSON Schema; secrets are masked afterwards.
    await page.goto("/console/carriers/connect/fedex")
    assert await page.get_attribute("input[name=client_secret]", "type") == "password"
    assert await page.locator("select[name=pickup_type] option").count() >= 3  # an enum is a select
    await shoot(page, "carrier-connect")
    await connect_fedex(page)
    assert "fx-secret-value" not in await page.content()
    secret = (await page.text_content("#secret-value")).strip()
    assert secret.startswith("whsec_")
    await page.click("text=Test connection")
    await page.wait_for_selector("text=Connection OK.")
    assert "/oauth/token" in console_server.fedex.calls
    await shoot(page, "carrier")
    await page.click("text=Rotate webhook secret")
    rotated = (await page.text_content("#secret-value")).strip()
    assert rotated.startswith("whsec_") and rotated != secret
    replace = page.locator("form[action$='/credentials']")
    for field, value in {**FEDEX_CREDENTIALS, "client_secret": "fx-rotated-secret"}.items():
        await replace.locator(f"input[name={field}]").fill(value)
    await replace.locator("button[type=submit]").click()
    await page.wait_for_selector("text=Credentials replaced.")
    assert "fx-rotated-secret" not in await page.content()
    await page.goto("/console/carriers")
    assert "fx-secret-value" not in await page.content() and secret not in await page.content()
    await shoot(page, "carriers")

    # Labels: book one for the order from the form (recipient from the order), with the service-point picker (htmx).
    order_id = ingested.json()["order"]["id"]
    await page.goto(f"/console/orders/{order_id}")
    await page.click("text=Book a label for this order")
    assert await page.input_value("[name=recipient_city]") == "Shippington"  # the order's shipping address
    await page.select_option("select[name=service]", "FEDEX_GROUND")
    await fill_address(page, "shipper", SHIPPER)
    await page.fill("[name=recipient_phone]", "5555557447")  # the order's 555-555-SHIP is no number FedEx takes
    await page.fill("[name=weight_grams]", "2300")
    await page.click("text=Find service points")
    await page.wait_for_selector("select[name=service_point_id] option:nth-child(2)", state="attached")
    assert "/location/v1/locations" in console_server.fedex.calls
    await shoot(page, "label-new")
    await page.select_option("select[name=service_point_id]", "")  # door delivery after all
    await page.click("#booking button[type=submit]")
    await page.wait_for_url(re.compile(r"/console/shipments/[0-9a-f-]{36}$"))
    number = console_server.fedex.booked[-1]
    assert number in await page.text_content("h1")

    async with page.expect_download() as download_info:
        await page.click("text=Download label (PDF)")
    download = await download_info.value
    pdf = await download.path()
    assert open(pdf, "rb").read().startswith(b"%PDF") and download.suggested_filename.endswith(".pdf")

    # Tracking: "Track now" asks FedEx; the timeline shows each event at its place's local time and offset.
    await page.click("text=Track now")
    await page.wait_for_selector(".timeline li time")
    times = await page.locator(".timeline li time").all_text_contents()
    assert times and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d [+-]\d\d:\d\d", t) for t in times)
    assert any(not t.endswith("+00:00") for t in times)  # US events: a local offset, not UTC
    assert "delivered" in await page.text_content("h1")
    await shoot(page, "shipment")

    for path, name in (("/console/shipments", "shipments"), ("/console/labels", "labels"), ("/console/orders", "orders"), ("/console/overview", "overview")):
        await page.goto(path)
        await shoot(page, name)
    await page.goto(f"/console/shipments?tracking_number={number}")
    assert await page.locator("tbody tr").count() == 1 and number in await page.text_content("tbody")
    await page.goto("/console/orders")
    await page.click("tbody tr a")
    await page.wait_for_selector("text=Ship to")
    assert number in await page.text_content("main")  # the order page lists its shipment and label
    await shoot(page, "order")
    await page.goto("/console/overview")
    assert await page.locator("img.chart").first.evaluate("img => img.complete && img.naturalWidth > 0")
    assert "On-time rate per carrier" in await page.text_content("#analytics")


async def test_a_batch_upload_progresses_to_done_live_and_prints_as_one_pdf(page, console_server, make_tenant, batch_booker, tmp_path):
    acme = await make_tenant("acme")
    await sign_in(page, acme.admin)
    await connect_fedex(page)
    header, *rows = shared_csv().splitlines()
    csv_text = "\n".join([header, *[re.sub(r"^order-\d+", f"order-{i:04d}", rows[i % len(rows)]) for i in range(6)]]) + "\n"
    upload = tmp_path / "batch.csv"
    upload.write_text(csv_text)

    await page.goto("/console/labels/batches/new")
    await page.select_option("select[name=service]", "fedex:FEDEX_GROUND")
    await fill_address(page, "shipper", SHIPPER)
    await page.set_input_files("input[name=file]", str(upload))
    await shoot(page, "batch-new")
    await page.click("form.card button[type=submit]")
    await page.wait_for_url(re.compile(r"/console/labels/batches/[0-9a-f-]{36}$"))
    assert await page.get_attribute("#progress", "data-status") == "queued"
    assert "0 of 6" in await page.text_content("#progress")

    console_server.fedex.ship_delay = 0.1
    worker = asyncio.create_task(run_until_idle(batch_booker))
    try:
        await page.wait_for_selector("#progress[data-status=completed]", timeout=20_000)  # htmx polling, no reload
    finally:
        console_server.fedex.ship_delay = 0.0
        await worker
    assert "6 booked" in await page.text_content("#progress")
    assert await page.locator("#progress .i-booked").count() == 6  # the items too, without a reload
    assert await page.locator("text=Download all ZPL").count() == 0  # only the formats the batch has
    await shoot(page, "batch")
    async with page.expect_download() as download_info:
        await page.click("text=Download merged PDF")
    merged = PdfReader(io.BytesIO(open(await (await download_info.value).path(), "rb").read()))
    piece = console_server.fedex.ship_reply["output"]["transactionShipments"][0]["pieceResponses"][0]
    one_label = PdfReader(io.BytesIO(base64.b64decode(piece["packageDocuments"][0]["encodedLabel"])))
    assert len(merged.pages) == 6 * len(one_label.pages)


def shared_csv() -> str:
    from tests.conftest import REPO_ROOT

    return (REPO_ROOT / "examples" / "label-batch.csv").read_text()


async def run_until_idle(booker, rounds: int = 200) -> None:
    for _ in range(rounds):
        if not await booker.run_once():
            return
        await asyncio.sleep(0)


async def test_a_failed_webhook_delivery_is_seen_and_retried_against_a_local_receiver(page, console_server, make_tenant, delivery_sender):
    acme = await make_tenant("acme")
    receiver = Receiver()
    await receiver.start()
    try:
        await sign_in(page, acme.admin)
        await page.goto("/console/webhooks")
        await page.fill("input[name=url]", receiver.url("shop"))
        await page.click("text=Add endpoint")
        secret = (await page.text_content("#secret-value")).strip()
        receiver.secrets["shop"].append(secret)
        await shoot(page, "webhooks")
        await page.click("a[href^='/console/webhooks/']")
        receiver.script("shop", *[(500, {}, b"upstream exploded: database locked")] * 5)
        await page.click("text=Send test ping")
        await page.wait_for_selector("text=Test ping queued.")
        rows = await drain(delivery_sender, console_server.db, acme.id)
        assert [r.status for r in rows] == ["failed"]

        await page.reload()
        delivery = page.locator("article.delivery").first
        assert "failed" in await delivery.text_content() and "HTTP 500" in await delivery.text_content()
        assert "upstream exploded" in await delivery.text_content()
        await shoot(page, "webhook")
        receiver.scripts["shop"].responses.clear()
        await delivery.locator("text=Retry now").click()
        await page.wait_for_selector("text=Delivery queued to be sent again now.")
        rows = await drain(delivery_sender, console_server.db, acme.id)
        assert [r.status for r in rows] == ["succeeded"]
        await page.reload()
        assert "succeeded" in await page.locator("article.delivery").first.text_content()
        assert receiver.received("shop")[-1].verified

        # The endpoint's other controls: disable / enable, replay since a time, rotate the secret (shown once).
        await page.click("button:text-is('Disable')")
        await page.wait_for_selector(".status.w-disabled")
        await page.click("button:text-is('Enable')")
        await page.wait_for_selector(".status.w-ok")
        await page.fill("input[name=since]", "2020-01-01T00:00")
        await page.click("button:text-is('Replay')")
        await page.wait_for_selector("text=events queued again")
        assert re.search(r"[1-9]\d* events queued again", await page.text_content(".notice"))
        await page.click("text=Rotate secret")
        rotated = (await page.text_content("#secret-value")).strip()
        assert rotated.startswith("whsec_") and rotated != secret
    finally:
        await receiver.stop()


async def test_a_merchant_reads_but_cannot_reach_admin_pages_and_csrf_is_refused(page, console_server, make_tenant, admin_key):
    acme = await make_tenant("acme")
    await sign_in(page, acme.merchant)
    nav = await page.locator("nav.nav").text_content()
    assert "Admin" not in nav and "API keys" not in nav
    response = await page.goto("/console/admin")
    assert response.status == 403 and "platform admins" in await page.content()
    await shoot(page, "forbidden")
    await page.goto("/console/webhooks")
    assert await page.locator("text=Add an endpoint").count() == 0  # read-only: no management forms

    # A form whose CSRF token was tampered with (as a forged cross-site form would carry) is refused.
    await page.context.clear_cookies()
    await sign_in(page, acme.admin)
    await page.goto("/console/api-keys")
    await shoot(page, "api-keys")
    await page.fill("form.row input[name=name]", "forged")
    await page.evaluate("document.querySelector('form.row input[name=csrf_token]').value = 'forged'")
    async with page.expect_response(lambda r: r.request.method == "POST") as posted:
        await page.click("text=Create key")
    assert (await posted.value).status == 403
    assert "CSRF" in await page.content()
    await page.goto("/console/api-keys")
    assert "forged" not in await page.text_content("table")

    # The key is shown once, with a copy button (console.js); then revoked, it ends that key's sessions.
    await page.fill("form.row input[name=name]", "till 2")
    await page.click("text=Create key")
    key = (await page.text_content("#new-key")).strip()
    assert key.startswith("chub_")
    await page.click("[data-copy='#new-key']")
    await page.wait_for_selector("[data-copy='#new-key'][data-copied=true]")
    await page.goto("/console/api-keys")
    assert key not in await page.content()
    await page.locator("tr", has_text="till 2").locator("text=Revoke").click()
    await page.wait_for_selector("text=Key revoked.")
    assert await page.locator("tr.revoked", has_text="till 2").count() == 1
    await page.click("text=Sign out")
    await page.wait_for_url(re.compile(r"/console/sign-in$"))
    assert (await page.goto("/console/api-keys")) and "/console/sign-in" in page.url

    await page.context.clear_cookies()
    await sign_in(page, admin_key)
    assert page.url.endswith("/console/admin") and "acme" in await page.content()
    await shoot(page, "admin")


async def test_a_platform_admin_suspends_a_tenant_and_overrides_its_plan(page, console_server, make_tenant, admin_key):
    acme = await make_tenant("acme")
    await sign_in(page, admin_key)
    await page.locator("tr", has_text="Acme").locator("text=Manage").click()
    await page.wait_for_selector("text=Suspend tenant")
    await page.check("input[name=confirm]")
    await page.click("text=Suspend tenant")
    await page.wait_for_selector("text=Tenant suspended")
    assert await page.text_content("h1 .status") == "suspended"
    await page.select_option("select[name=plan]", "growth")
    await page.fill("input[name=until]", "2099-01-31T12:00")
    await page.fill("input[name=reason]", "enterprise deal #42")
    await page.click("text=Set override")
    await page.wait_for_selector("text=Plan override set: growth.")
    assert "override" in await page.text_content(".kv") and "2099-01-31 12:00 UTC" in await page.text_content(".kv")
    await shoot(page, "admin-tenant")
    await page.goto("/console/admin")
    row = page.locator("tr", has_text="Acme")
    assert "suspended" in await row.text_content() and "growth" in await row.text_content()
    await shoot(page, "admin")
    await page.click("nav.nav >> text=Audit log")
    await page.select_option("select[name=tenant_id]", str(acme.id))
    await page.click("text=Filter")
    await page.wait_for_selector("td[data-label=Action] div:text-is('plan_override.set')")
    assert await page.locator("td[data-label=Action] div:text-is('tenant.updated')").count() == 1
    await shoot(page, "audit-log")


async def test_analytics_grouped_exported_as_csv_and_a_review_hidden(page, console_server, make_tenant, owner_db, app_db, client, tmp_path):
    acme = await make_tenant("acme")
    ids = await recent_history(owner_db, app_db, acme.id, "A")
    r = await client.post(f"/v1/shipments/{ids['late']}/reviews", json={"rating": 2, "comment": "A day late"}, headers=acme.headers())
    assert r.status_code == 201
    await sign_in(page, acme.admin)
    assert await page.locator("#late-shipments a", has_text="ALATE").count() == 1
    await shoot(page, "overview")

    await page.click("nav.nav >> text=Analytics")
    await page.check("input[name=group_by][value=service]")
    await page.select_option("select[name=chart]", "transit")
    await page.click("#analytics-form button[type=submit]")
    await page.wait_for_selector("#carriers-table th:text-is('service')")
    assert await page.locator("#carriers-table tbody tr").count() == 2
    async with page.expect_download() as download:
        await page.click("#csv-export")
    saved = tmp_path / "export.csv"
    await (await download.value).save_as(saved)
    exported = saved.read_text()
    api = await client.get("/v1/analytics/carriers", params={"group_by": "carrier,service", "format": "csv"}, headers=acme.headers())
    assert exported.startswith("carrier,service,shipments,") and exported.splitlines() == api.text.splitlines()
    await shoot(page, "analytics")

    await page.goto(f"/console/shipments/{ids['late']}")
    await page.click("#review-link-form button")
    await page.wait_for_selector("#review-link")
    await shoot(page, "shipment-reviews")
    await page.click("nav.nav >> text=Reviews")
    row = page.locator("#reviews-table tr", has_text="A day late")
    await row.locator("button", has_text="Hide").click()
    await page.wait_for_selector("text=Review hidden")
    assert await page.locator("#reviews-table tr.hidden-review", has_text="A day late").count() == 1
    await shoot(page, "reviews")
