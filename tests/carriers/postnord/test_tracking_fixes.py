"""PostNord tracking fixes checked against variants of the spec-built reply (`replies.py`).

The spec has no example of these cases, so each test changes the built
reply as its docstring says (only with fields the spec declares, checked by
`assert_conforms`): returns (not final until back at the sender), the item's
`acceptor.name` as signed_by, country names where the city goes, the
estimate of undelivered/delivered results, padded fields.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.carriers.postnord.adapter import PostNordAdapter
from app.carriers.postnord.tracking import parse_track_response
from app.carriers.types import FINAL_STATUSES, Location, TrackingStatus
from tests.carriers.helpers import utc
from tests.carriers.postnord.replies import (
    ITEM_ID,
    SHIPMENT_ID,
    add_event,
    assert_conforms,
    build_reply,
    item_of,
    return_reply,
    schemas,
    serve,
    until,
)


def test_undelivered_result_keeps_its_eta(spec: dict[str, Any]) -> None:
    [result] = parse_track_response(until(build_reply(spec), "1"), [SHIPMENT_ID])
    assert result.status is TrackingStatus.AVAILABLE_FOR_PICKUP
    assert result.estimated_delivery == utc("2021-03-29T10:00:00")  # 12:00 Stockholm summer time


async def test_signed_by_from_the_items_acceptor(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    """Variant: the spec's `ItemDto.acceptor` (AcceptorDto {name, signatureReference}) added to the built reply."""
    reply = build_reply(spec)
    item_of(reply)["acceptor"] = {"name": "ANNA SVENSSON", "signatureReference": "ref-123"}
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    [result], _ = await serve(adapter, SHIPMENT_ID, httpx.Response(200, json=reply))
    assert [e.signed_by for e in result.events] == [None, None, None, None, "ANNA SVENSSON"]


def test_no_acceptor_no_signer(spec: dict[str, Any]) -> None:
    [result] = parse_track_response(build_reply(spec), [SHIPMENT_ID])
    assert result.events[-1].status is TrackingStatus.DELIVERED
    assert result.events[-1].signed_by is None


async def test_returning_to_shipper_is_not_final(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    [result], _ = await serve(adapter, SHIPMENT_ID, httpx.Response(200, json=return_reply(spec)))
    assert [e.status for e in result.events][-3:] == [
        TrackingStatus.AVAILABLE_FOR_PICKUP,
        TrackingStatus.RETURN_TO_SENDER,  # RETURNED + "is being returned"
        TrackingStatus.RETURN_TO_SENDER,  # a transit scan on the way back
    ]
    assert result.status is TrackingStatus.RETURN_TO_SENDER
    assert result.status not in FINAL_STATUSES
    assert result.estimated_delivery is None  # the ETA was for the recipient


def test_delivered_back_to_the_sender_is_returned(spec: dict[str, Any]) -> None:
    reply = return_reply(spec)
    add_event(reply, "2021-04-14T11:00:00", "21", "DELIVERED", "The shipment item has been delivered.",
              city="Malmö", postcode="21119", countryCode="SE")  # fmt: skip
    [result] = parse_track_response(reply, [ITEM_ID])
    assert result.events[-1].status is TrackingStatus.RETURNED
    assert result.status is TrackingStatus.RETURNED
    assert result.status in FINAL_STATUSES


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        ("RETURNED", "The shipment item has been returned to the sender.", TrackingStatus.RETURNED),
        ("RETURNED", "Försändelsen har returnerats till avsändaren.", TrackingStatus.RETURNED),
        ("RETURNED", "The shipment item will be returned to the sender.", TrackingStatus.RETURN_TO_SENDER),
        ("RETURNED", "", TrackingStatus.RETURN_TO_SENDER),
        ("DELIVERY_REFUSED", "The recipient has refused the shipment.", TrackingStatus.RETURN_TO_SENDER),
        ("DELIVERED", "The shipment item has been delivered to the sender.", TrackingStatus.RETURNED),
    ],
)
def test_return_statuses(spec: dict[str, Any], status: str, text: str, expected: TrackingStatus) -> None:
    """Variant: the built reply's last event replaced by a return event (status from the spec's enum)."""
    assert status in schemas(spec)["ItemStatus"]["enum"]
    reply = until(build_reply(spec), "31")
    add_event(reply, "2021-03-03T10:00:00", "99", status, text)
    [result] = parse_track_response(reply, [SHIPMENT_ID])
    assert result.events[-1].status is expected
    assert result.status is expected


def test_returned_item_status_without_events(spec: dict[str, Any]) -> None:
    reply = {"TrackingInformationResponse": {"shipments": [
        {"shipmentId": SHIPMENT_ID, "status": "RETURNED", "items": [{"itemId": ITEM_ID, "status": "RETURNED"}]}
    ]}}  # fmt: skip
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    [result] = parse_track_response(reply, [ITEM_ID])
    assert result.status is TrackingStatus.RETURN_TO_SENDER
    reply["TrackingInformationResponse"]["shipments"][0]["items"][0]["statusText"] = {
        "header": "Returned", "body": "The shipment has been returned to the sender."
    }  # fmt: skip
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    [result] = parse_track_response(reply, [ITEM_ID])
    assert result.status is TrackingStatus.RETURNED


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ({"city": "Sverige", "countryCode": "SE", "country": "Sverige"}, Location(country="SE")),
        ({"city": "SWEDEN", "postcode": "17300"}, Location(postal_code="17300", country="SE")),
        ({"city": "Norge", "country": "Norge"}, Location(country="NO")),
        ({"city": "Malmö", "country": "Sweden"}, Location(city="Malmö", country="SE")),
    ],
)
async def test_country_name_is_never_the_city(
    adapter: PostNordAdapter, spec: dict[str, Any], location: dict[str, str], expected: Location
) -> None:
    """Variant: an event whose LocationDto names a country where the city goes (national hubs)."""
    reply = until(build_reply(spec), "31")
    item_of(reply)["events"][-1]["location"] = {"locationId": "900200", "locationType": "HUB", **location}
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    [result], _ = await serve(adapter, SHIPMENT_ID, httpx.Response(200, json=reply))
    assert result.events[-1].location == expected
    assert result.events[-1].location.state is None  # LocationDto has no state/region


def test_unreadable_fields_do_not_fail_the_reply(spec: dict[str, Any]) -> None:
    """Variant: PostNord padding ("" for an object, a number for a string, junk in a list)."""
    reply = until(build_reply(spec), "31")
    shipment = reply["TrackingInformationResponse"]["shipments"][0]
    shipment["deliveryPoint"] = ""
    item_of(reply)["events"].append("not an event")
    item_of(reply)["events"][-2]["location"]["postcode"] = 55303
    [result] = parse_track_response(reply, [SHIPMENT_ID])
    assert [e.carrier_code for e in result.events] == ["68", "31"]
    assert result.events[-1].location.postal_code == "55303"
