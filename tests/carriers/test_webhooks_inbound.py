"""Inbound courier pushes: `verify_webhook` (who may push) and `parse_webhook` (what the push says).

Carrier bodies are the published samples in ../shared/carrier-samples (see each
file's .source.txt): UPS Track Alert examples from `ups/openapi-track-alert.yaml`
(loaded with YAML 1.2 integers, so `descriptionCode: 021` stays the string UPS
sends), Bring's Event Cast callback example, and a DHL tracking response used
as a Unified Push notification (DHL's guide: the push reuses that structure).
Generic pushes (FedEx, PostNord, plugins) are built here and signed the way a
sender does, with `standardwebhooks.webhooks.Webhook.sign`.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from starlette.datastructures import Headers

from app.carriers import registry
from app.carriers.base import CarrierAdapter
from app.carriers.bring.adapter import BringAdapter
from app.carriers.dhl.adapter import DhlAdapter
from app.carriers.errors import CarrierError, WebhookAuthError, WebhookPayloadError
from app.carriers.fedex.adapter import FedexAdapter
from app.carriers.postnord.adapter import PostNordAdapter
from app.carriers.types import Location, TrackingStatus as S
from app.carriers.ups.adapter import UpsAdapter
from tests.carriers.helpers import event_rows, load_yaml_12, sample_path, utc

SECRET = "whsec_" + base64.b64encode(b"courier-hub test webhook secret!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"some other integration's secret!").decode()


# --------------------------------------------------------------------------- samples




def ups_track_alert_examples() -> tuple[dict[str, Any], dict[str, Any]]:
    """UPS's two `webhooks.TrackingEvent` example bodies: out for delivery, delivered."""
    spec = load_yaml_12(sample_path("ups", "openapi-track-alert.yaml").read_text(encoding="utf-8"))
    examples = spec["webhooks"]["TrackingEvent"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    return examples["1"]["value"], examples["2"]["value"]


def bring_event_cast_body() -> bytes:
    return sample_path("bring", "event-cast-webhook-in-transit.json").read_bytes()


def dhl_push_body(name: str = "tracking-response-ecommerce-delivered-00340434292135100186.json") -> bytes:
    return sample_path("dhl", name).read_bytes()


# --------------------------------------------------------------------------- generic push helpers

GENERIC_PUSH: dict[str, Any] = {
    "shipments": [
        {
            "tracking_number": "794843185271",
            "estimated_delivery": "2024-05-03T18:00:00+02:00",
            "events": [  # deliberately newest first
                {
                    "id": "evt-2",
                    "occurred_at": "2024-05-02T09:30:00+02:00",
                    "status": "out_for_delivery",
                    "code": "OD",
                    "description": "On FedEx vehicle for delivery",
                    "location": {"city": "Oslo", "postal_code": "0150", "country": "no"},
                    "vendor_extra": {"kept": True},
                },
                {"id": "evt-1", "occurred_at": "2024-05-01T22:15:00Z", "status": "in_transit", "code": "AR"},
            ],
            "unknown_member": "ignored",
        },
        {"tracking_number": "794843185272", "status": "delivered"},
    ],
    "sent_by": "ignored too",
}


def signed_headers(
    body: bytes, *, secret: str = SECRET, at: datetime | None = None, msg_id: str = "msg_2hB1"
) -> dict[str, str]:
    """The Standard Webhooks headers a sender computes for `body` (timestamp `at`, default now)."""
    at = at or datetime.now(timezone.utc)
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature}


GENERIC_ADAPTERS = [FedexAdapter, PostNordAdapter]
HEADER_ADAPTERS = [(UpsAdapter, "x-api-key"), (BringAdapter, "x-courier-hub-secret"), (DhlAdapter, "x-courier-hub-secret")]


# --------------------------------------------------------------------------- contract


def test_error_types_map_to_401_and_400() -> None:
    auth, payload = WebhookAuthError("ups", "nope"), WebhookPayloadError("ups", "bad")
    assert isinstance(auth, CarrierError) and isinstance(payload, CarrierError)
    assert (auth.http_status, auth.problem_type) == (401, "webhook-signature-invalid")
    assert (auth.carrier, auth.message) == ("ups", "nope")
    assert (payload.http_status, payload.problem_type) == (400, "webhook-payload-invalid")


def test_every_registered_carrier_reports_inbound_pushes_and_its_scheme() -> None:
    registry.refresh()
    try:
        described = {entry["code"]: entry for entry in registry.describe()}
    finally:
        registry.refresh()
    assert {code: (e["webhook_auth_scheme"], e["webhook_auth_header"]) for code, e in described.items()} == {
        "dhl": ("secret-header", "x-courier-hub-secret"),
        "fedex": ("standard-webhooks", None),
        "ups": ("secret-header", "x-api-key"),
        "postnord": ("standard-webhooks", None),
        "bring": ("secret-header", "x-courier-hub-secret"),
    }
    assert all("parse_webhook" in e["capabilities"] for e in described.values())
    # FedEx and PostNord have no push code of their own: they inherit the generic format
    assert FedexAdapter.parse_webhook.__func__ is CarrierAdapter.parse_webhook.__func__
    assert PostNordAdapter.verify_webhook.__func__ is CarrierAdapter.verify_webhook.__func__


# --------------------------------------------------------------------------- UPS Track Alert


def test_ups_track_alert_examples_verify_and_parse() -> None:
    out_for_delivery, delivered = ups_track_alert_examples()
    headers = {"X-Api-Key": SECRET, "User-Agent": "UPSPubSubTrackingService", "Content-Type": "application/json"}

    body = json.dumps(out_for_delivery).encode()
    UpsAdapter.verify_webhook(headers=headers, body=body, secret=SECRET)
    [result] = UpsAdapter.parse_webhook(headers=headers, body=body)
    assert (result.tracking_number, result.found, result.status) == ("1Z204W4R0308071865", True, S.OUT_FOR_DELIVERY)
    assert event_rows(result) == [
        (utc("2024-04-23T13:15:19"), S.OUT_FOR_DELIVERY, "021", "Out for Delivery", "Charlotte", "30004", "US")
    ]

    body = json.dumps(delivered).encode()
    UpsAdapter.verify_webhook(headers=Headers(headers), body=body, secret=SECRET)
    [result] = UpsAdapter.parse_webhook(headers=Headers(headers), body=body)
    assert result.status is S.DELIVERED
    assert event_rows(result) == [
        (utc("2024-04-23T13:50:04"), S.DELIVERED, "011", "Delivered", "CHARLOTTE", "28209", "US")
    ]
    assert result.events[0].raw == delivered


def test_ups_accepts_a_list_of_track_alert_events() -> None:
    out_for_delivery, delivered = ups_track_alert_examples()
    results = UpsAdapter.parse_webhook(headers={}, body=json.dumps([out_for_delivery, delivered]).encode())
    assert [r.status for r in results] == [S.OUT_FOR_DELIVERY, S.DELIVERED]
    assert UpsAdapter.parse_webhook(headers={}, body=b"[]") == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'"1Z204W4R0308071865"',
        b'{"trackingNumber": "1Z204W4R0308071865"}',  # no activityStatus
        b'{"trackingNumber": "1Z", "activityStatus": {"type": "D"}}',  # no date at all
        # a valid event followed by a non-object
        b'[{"trackingNumber": "1Z", "activityStatus": {"type": "D"},'
        b' "gmtActivityDate": "20240423", "gmtActivityTime": "131519"}, 5]',
    ],
)
def test_ups_malformed_bodies(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError) as info:
        UpsAdapter.parse_webhook(headers={}, body=body)
    assert info.value.carrier == "ups"


# --------------------------------------------------------------------------- Bring Event Cast


def test_bring_event_cast_sample_verifies_and_parses() -> None:
    body = bring_event_cast_body()
    headers = Headers({"X-Bring-Application": "BMEC", "X-Courier-Hub-Secret": SECRET, "Content-Type": "application/json"})
    BringAdapter.verify_webhook(headers=headers, body=body, secret=SECRET)
    [result] = BringAdapter.parse_webhook(headers=headers, body=body)
    assert (result.tracking_number, result.status) == ("TESTPACKAGEDELIVERED", S.IN_TRANSIT)
    [event] = result.events
    assert (event.occurred_at, event.status, event.carrier_code) == (utc("2019-03-16T14:58:48"), S.IN_TRANSIT, "IN_TRANSIT")
    assert result.raw["shipment"] == "SHIPMENTNUMBER"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'["IN_TRANSIT"]',
        b'{"status": "IN_TRANSIT", "created": "2019-03-16T14:58:48+0000"}',  # no package/shipment
        b'{"status": "IN_TRANSIT", "package": "P1", "created": "yesterday"}',
    ],
)
def test_bring_malformed_bodies(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        BringAdapter.parse_webhook(headers={}, body=body)


# --------------------------------------------------------------------------- DHL Unified Push


def test_dhl_push_with_tracking_response_sample_verifies_and_parses() -> None:
    body = dhl_push_body()
    headers = {"x-courier-hub-secret": SECRET, "content-type": "application/json"}
    DhlAdapter.verify_webhook(headers=headers, body=body, secret=SECRET)
    [result] = DhlAdapter.parse_webhook(headers=headers, body=body)
    assert (result.tracking_number, result.found, result.status) == ("00340434292135100186", True, S.DELIVERED)
    assert len(result.events) == 12
    assert [e.occurred_at for e in result.events] == sorted(e.occurred_at for e in result.events)
    first, last = result.events[0], result.events[-1]
    assert (first.carrier_code, first.raw["status"]) == ("unknown", "LABEL CREATED")
    assert (last.occurred_at, last.status, last.description) == (
        datetime(2023, 5, 8, 17, 37, tzinfo=timezone.utc),
        S.DELIVERED,
        "DELIVERED - PARCEL LOCKER",
    )
    assert last.location == Location(city="Henderson", state="NV", postal_code="89014", country="US")


def test_dhl_push_numeric_shipment_id_and_empty_list() -> None:
    # DHL's spec example carries a numeric shipment id
    [result] = DhlAdapter.parse_webhook(headers={}, body=dhl_push_body("tracking-response-spec-example-7777777770.json"))
    assert result.tracking_number == "7777777770"
    assert DhlAdapter.parse_webhook(headers={}, body=b'{"shipments": []}') == []


@pytest.mark.parametrize(
    "body",
    [
        b"<html>",
        b"[]",
        b"{}",
        b'{"shipments": {"id": "1"}}',
        b'{"shipments": ["00340434292135100186"]}',
        b'{"shipments": [{"events": []}]}',  # no id
        b'{"shipments": [{"id": "  ", "events": []}]}',
    ],
)
def test_dhl_malformed_bodies(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        DhlAdapter.parse_webhook(headers={}, body=body)


# --------------------------------------------------------------------------- shared-secret header (UPS, Bring, DHL)


@pytest.mark.parametrize(("adapter", "header"), HEADER_ADAPTERS)
def test_secret_header_is_required_and_compared_exactly(adapter: type[CarrierAdapter], header: str) -> None:
    body = b'{"any": "body"}'
    adapter.verify_webhook(headers={header.upper(): SECRET}, body=body, secret=SECRET)
    adapter.verify_webhook(headers=Headers({header: SECRET}), body=body, secret=SECRET)
    rejected = [
        {header: OTHER_SECRET},  # wrong secret
        {header: SECRET[:-1]},  # a prefix is not enough
        {header: SECRET + "x"},
        {header: ""},
        {},  # missing
        {"authorization": f"Bearer {SECRET}"},  # the secret, but in another header
        signed_headers(body),  # a valid Standard Webhooks signature does not replace the header
    ]
    for headers in rejected:
        with pytest.raises(WebhookAuthError) as info:
            adapter.verify_webhook(headers=headers, body=body, secret=SECRET)
        assert info.value.http_status == 401
        assert SECRET not in str(info.value)


@pytest.mark.parametrize(("adapter", "header"), HEADER_ADAPTERS)
def test_an_empty_configured_secret_never_matches(adapter: type[CarrierAdapter], header: str) -> None:
    with pytest.raises(WebhookAuthError):
        adapter.verify_webhook(headers={header: ""}, body=b"{}", secret="")


# --------------------------------------------------------------------------- generic push, Standard Webhooks


@pytest.mark.parametrize("adapter", GENERIC_ADAPTERS)
def test_generic_push_signed_with_standard_webhooks(adapter: type[CarrierAdapter]) -> None:
    body = json.dumps(GENERIC_PUSH).encode()
    headers = signed_headers(body)
    adapter.verify_webhook(headers=headers, body=body, secret=SECRET)
    adapter.verify_webhook(headers=Headers({k.title(): v for k, v in headers.items()}), body=body, secret=SECRET)

    first, second = adapter.parse_webhook(headers=headers, body=body)
    assert (first.tracking_number, first.found, first.status) == ("794843185271", True, S.OUT_FOR_DELIVERY)
    assert first.estimated_delivery == utc("2024-05-03T16:00:00")
    assert event_rows(first) == [
        (utc("2024-05-01T22:15:00"), S.IN_TRANSIT, "AR", None, None, None, None),
        (utc("2024-05-02T07:30:00"), S.OUT_FOR_DELIVERY, "OD", "On FedEx vehicle for delivery", "Oslo", "0150", "NO"),
    ]
    assert first.events[1].raw == GENERIC_PUSH["shipments"][0]["events"][0]  # verbatim, unknown members too
    assert first.raw == GENERIC_PUSH["shipments"][0]
    assert (second.tracking_number, second.status, second.events) == ("794843185272", S.DELIVERED, [])


def test_generic_push_empty_shipments_and_explicit_status_wins() -> None:
    assert FedexAdapter.parse_webhook(headers={}, body=b'{"shipments": []}') == []
    body = {
        "shipments": [
            {
                "tracking_number": "X1",
                "status": "exception",
                "events": [{"occurred_at": "2024-05-01T10:00:00+00:00", "status": "in_transit"}],
            }
        ]
    }
    [result] = PostNordAdapter.parse_webhook(headers={}, body=json.dumps(body).encode())
    assert result.status is S.EXCEPTION
    assert result.events[0].status is S.IN_TRANSIT


def test_generic_push_during_secret_rotation() -> None:
    body = json.dumps(GENERIC_PUSH).encode()
    now = datetime.now(timezone.utc)
    old_signature = signed_headers(body, secret=OTHER_SECRET, at=now)["webhook-signature"]
    headers = signed_headers(body, at=now)
    for both in (f"{old_signature} {headers['webhook-signature']}", f"{headers['webhook-signature']} {old_signature}"):
        FedexAdapter.verify_webhook(headers={**headers, "webhook-signature": both}, body=body, secret=SECRET)
    with pytest.raises(WebhookAuthError):  # the old signature alone no longer passes
        FedexAdapter.verify_webhook(headers={**headers, "webhook-signature": old_signature}, body=body, secret=SECRET)


def _generic_rejections() -> list[tuple[str, dict[str, str], bytes]]:
    body = json.dumps(GENERIC_PUSH).encode()
    good = signed_headers(body)
    six_minutes_ago = datetime.now(timezone.utc) - timedelta(minutes=6)
    return [
        ("wrong secret", signed_headers(body, secret=OTHER_SECRET), body),
        ("tampered body", good, body.replace(b"794843185271", b"794843185279")),
        ("old timestamp", signed_headers(body, at=six_minutes_ago), body),
        ("future timestamp", signed_headers(body, at=datetime.now(timezone.utc) + timedelta(minutes=6)), body),
        ("timestamp changed after signing", {**good, "webhook-timestamp": str(int(good["webhook-timestamp"]) + 1)}, body),
        ("id changed after signing", {**good, "webhook-id": "msg_other"}, body),
        ("garbage signature", {**good, "webhook-signature": "garbage"}, body),
        ("bad base64 signature", {**good, "webhook-signature": "v1,@@@not-base64@@@"}, body),
        ("unknown signature version", {**good, "webhook-signature": "v2," + good["webhook-signature"][3:]}, body),
        ("non-numeric timestamp", {**good, "webhook-timestamp": "yesterday"}, body),
        ("missing webhook-id", {k: v for k, v in good.items() if k != "webhook-id"}, body),
        ("missing webhook-timestamp", {k: v for k, v in good.items() if k != "webhook-timestamp"}, body),
        ("missing webhook-signature", {k: v for k, v in good.items() if k != "webhook-signature"}, body),
        ("shared-secret header instead of a signature", {"x-courier-hub-secret": SECRET}, body),
        ("non-UTF-8 body", signed_headers(body), body + b"\xff"),
    ]


@pytest.mark.parametrize("case", [name for name, _, _ in _generic_rejections()])
def test_generic_push_rejected_signatures(case: str) -> None:
    # Built when the test runs, not at collection: the timestamp cases are relative to now.
    headers, body = {name: (h, b) for name, h, b in _generic_rejections()}[case]
    with pytest.raises(WebhookAuthError) as info:
        PostNordAdapter.verify_webhook(headers=headers, body=body, secret=SECRET)
    assert info.value.carrier == "postnord"


def test_generic_push_with_unusable_configured_secret_fails_closed() -> None:
    body = b'{"shipments": []}'
    for secret in ("", "whsec_", "whsec_%%%"):
        with pytest.raises(WebhookAuthError):
            FedexAdapter.verify_webhook(headers=signed_headers(body), body=body, secret=secret)


def _generic_with(**event: Any) -> bytes:
    base = {"occurred_at": "2024-05-01T10:00:00Z", "status": "in_transit"}
    return json.dumps({"shipments": [{"tracking_number": "X1", "events": [{**base, **event}]}]}).encode()


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"not json", "not valid JSON"),
        (b'[{"tracking_number": "X1"}]', "body"),
        (b"{}", "shipments"),
        (b'{"shipments": [{"status": "delivered"}]}', "shipments.0.tracking_number"),
        (b'{"shipments": [{"tracking_number": "   "}]}', "shipments.0.tracking_number"),
        (b'{"shipments": [{"tracking_number": 1234567890}]}', "shipments.0.tracking_number"),
        (b'{"shipments": [{"tracking_number": "X1", "status": "lost_in_space"}]}', "shipments.0.status"),
        (_generic_with(occurred_at="2024-05-01T10:00:00"), "shipments.0.events.0.occurred_at"),  # naive
        (_generic_with(occurred_at=1714557600), "shipments.0.events.0.occurred_at"),  # not ISO 8601 text
        (_generic_with(status="DL"), "shipments.0.events.0.status"),
        (_generic_with(location={"country": "NOR"}), "shipments.0.events.0.location.country"),
            (
            b'{"shipments": [{"tracking_number": "X1", "estimated_delivery": "2024-05-03"}]}',
            "shipments.0.estimated_delivery",
        ),
        (b'{"shipments": [{"tracking_number": "X1", "events": [{"status": "in_transit"}]}]}', "occurred_at"),
    ],
)
def test_generic_push_malformed_bodies(body: bytes, complaint: str) -> None:
    with pytest.raises(WebhookPayloadError) as info:
        FedexAdapter.parse_webhook(headers={}, body=body)
    assert complaint in info.value.message
    assert info.value.http_status == 400
