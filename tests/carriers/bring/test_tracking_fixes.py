"""Bring tracking fixes checked against variants of Bring's examples (`samples.py`).

The examples lack these cases, so each test changes a saved example as its
docstring says: HTML in descriptions and the pickup point the text names,
returns (RETURN not final, DELIVERED_SENDER and the return leg), signed_by
from `recipientSignature.name`, country names where the city goes, the
estimate of a delivered result, padded fields.
"""

from __future__ import annotations

import copy

import pytest

from app.carriers.bring.adapter import BringAdapter
from app.carriers.bring.descriptions import pickup_point_name, plain_description
from app.carriers.bring.tracking import parse_event_cast, parse_track_response
from app.carriers.types import FINAL_STATUSES, Location, ServicePoint, TrackingStatus
from tests.carriers.bring.samples import events_of, load, newer_event, serve_body, track_sample


HTML_PICKUP = (
    'The shipment can be collected at <a href="https://www.posten.no/kundeservice/postkontor-info?enhetsnr=122608"'
    ' target="_blank">Coop Extra L&oslash;ten</a>.<br/>Remember ID &amp; the pickup code <b>AA11</b>.'
)


async def test_html_description_is_plain_text_and_names_the_pickup_point(adapter: BringAdapter) -> None:
    """Variant of tracking-successful.json: the READY_FOR_PICKUP text as Bring's web markup (link, <br>, <b>, entities)."""
    body = copy.deepcopy(load("tracking-successful.json"))
    events_of(body)[0]["description"] = HTML_PICKUP
    result = await serve_body(adapter, body, "TESTPACKAGEATPICKUPPOINT")
    pickup = result.events[-1]
    assert pickup.description == "The shipment can be collected at Coop Extra Løten. Remember ID & the pickup code AA11."
    assert pickup.raw["description"] == HTML_PICKUP  # the carrier's event stays verbatim
    # Bring's structured name is for another unit (122950), so the text's name is taken.
    expected = ServicePoint(id="122608", name="Coop Extra Løten", city="LØTEN", postal_code="2341", country="NO")
    assert pickup.service_point == expected
    assert result.service_point == expected


def test_structured_pickup_name_wins_over_the_text() -> None:
    """Variant of tracking-successful.json: expectedPickupUnitId is the event's unit, and the text names a point."""
    body = copy.deepcopy(load("tracking-successful.json"))
    body["consignmentSet"][0]["packageSet"][0]["expectedPickupUnitId"] = "122608"
    events_of(body)[0]["description"] = HTML_PICKUP
    [result] = parse_track_response(body, ["TESTPACKAGEATPICKUPPOINT"])
    assert result.events[-1].service_point.name == "Spar Dokka"


def test_plain_text_pickup_point_and_a_later_notice() -> None:
    """Variant of tracking-successful.json: plain-text pickup phrase, then a NOTIFICATION_SENT naming the point."""
    body = copy.deepcopy(load("tracking-successful.json"))
    events_of(body)[0]["description"] = "The shipment can be picked up at Kiwi Storo. Remember to bring ID."
    newer_event(body, "NOTIFICATION_SENT", "Reminder: the shipment can be collected at Kiwi Storo.",
                "2010-10-04T09:00:00+02:00")  # fmt: skip
    [result] = parse_track_response(body, ["TESTPACKAGEATPICKUPPOINT"])
    assert [e.service_point.name if e.service_point else None for e in result.events] == [
        None, "Kiwi Storo", "Kiwi Storo"
    ]  # fmt: skip
    assert result.events[-1].service_point == ServicePoint(name="Kiwi Storo")  # the notice's unit is no pickup point
    assert result.events[-1].status is TrackingStatus.AVAILABLE_FOR_PICKUP
    assert result.service_point.id == "122608"  # the READY_FOR_PICKUP event's point, with its unit


@pytest.mark.parametrize(
    ("description", "plain", "name"),
    [
        ("The shipment has arrived at pickup point.", "The shipment has arrived at pickup point.", None),
        ("Package can be collected at pickup point.", "Package can be collected at pickup point.", None),
        ("The shipment has arrived at terminal OSLO.", "The shipment has arrived at terminal OSLO.", None),
        ("Arrived at the pickup point <strong>Joker Vik</strong>, Storgata 1",
         "Arrived at the pickup point Joker Vik, Storgata 1", "Joker Vik"),
        ("Sendingen kan hentes p&aring; <a href='x'>Rema 1000 Gr&uuml;nerl&oslash;kka</a>.",
         "Sendingen kan hentes på Rema 1000 Grünerløkka.", "Rema 1000 Grünerløkka"),
        ("Försändelsen kan hämtas hos ICA Nära Tallkrogen. Ta med legitimation.",
         "Försändelsen kan hämtas hos ICA Nära Tallkrogen. Ta med legitimation.", "ICA Nära Tallkrogen"),
        # Bold inside the phrase is not the name: the words after the phrase are.
        ("can be <b>collected</b> at Joker Vik.", "can be collected at Joker Vik.", "Joker Vik"),
        ("Line one<br>line&nbsp;two<script>alert(1)</script> &lt;3", "Line one line two <3", None),
        ("", None, None),
    ],
)
def test_descriptions(description: str, plain: str | None, name: str | None) -> None:
    assert plain_description(description) == plain
    assert pickup_point_name(description) == name


async def test_signed_by_on_the_delivered_event(adapter: BringAdapter) -> None:
    [result], _ = await track_sample(adapter, "tracking-delivered.json", "TESTPACKAGEDELIVERED")
    # recipientSignature.name is "" on the other events: nobody signed for those.
    assert [e.signed_by for e in result.events] == [None, None, "O Nordmann"]


def test_signature_name_on_a_transit_event_is_no_signer() -> None:
    """Variant of tracking-delivered.json: a (stray) signature name on the TRANSPORT_TO_RECIPIENT event."""
    body = copy.deepcopy(load("tracking-delivered.json"))
    events_of(body)[1]["recipientSignature"] = {"name": "Driver"}
    [result] = parse_track_response(body, ["TESTPACKAGEDELIVERED"])
    assert result.events[1].signed_by is None


async def test_return_is_not_final(adapter: BringAdapter) -> None:
    """Variant of tracking-successfulWithEta.json: the parcel is sent back (RETURN) after loading for delivery."""
    body = copy.deepcopy(load("tracking-successfulWithEta.json"))
    newer_event(body, "RETURN", "The shipment is being returned to the sender.", "2021-04-20T17:00:00+02:00")
    result = await serve_body(adapter, body, "TESTPARCELWITHETA")
    assert result.status is TrackingStatus.RETURN_TO_SENDER
    assert result.status not in FINAL_STATUSES
    assert result.estimated_delivery is None  # the promise was for the recipient


def test_return_leg_then_delivered_back() -> None:
    """Variant of tracking-delivered.json's first events: RETURN, a terminal scan, then DELIVERED (to the sender)."""
    body = copy.deepcopy(load("tracking-loaded-for-delivery.json"))
    newer_event(body, "RETURN", "The shipment is being returned to the sender.", "2010-10-05T08:00:00+02:00")
    newer_event(body, "TERMINAL", "The shipment has arrived at the terminal.", "2010-10-06T08:00:00+02:00")
    delivered = newer_event(body, "DELIVERED", "The shipment has been delivered.", "2010-10-07T08:00:00+02:00")
    delivered["recipientSignature"] = {"name": "Posten Norge AS"}
    [result] = parse_track_response(body, ["TESTPACKAGELOADEDFORDELIVERY"])
    assert [e.status for e in result.events][-3:] == [
        TrackingStatus.RETURN_TO_SENDER, TrackingStatus.RETURN_TO_SENDER, TrackingStatus.RETURNED
    ]  # fmt: skip
    assert result.status is TrackingStatus.RETURNED
    assert result.events[-1].signed_by == "Posten Norge AS"


def test_delivered_sender_is_returned() -> None:
    """Variant of tracking-loaded-for-delivery.json: the RAML's DELIVERED_SENDER event."""
    body = copy.deepcopy(load("tracking-loaded-for-delivery.json"))
    newer_event(body, "DELIVERED_SENDER", "The shipment has been returned to the sender.", "2010-10-07T08:00:00+02:00")
    [result] = parse_track_response(body, ["TESTPACKAGELOADEDFORDELIVERY"])
    assert result.status is TrackingStatus.RETURNED
    assert result.status in FINAL_STATUSES


@pytest.mark.parametrize(
    ("code", "status"), [("RETURN", TrackingStatus.RETURN_TO_SENDER), ("DELIVERED_SENDER", TrackingStatus.RETURNED)]
)
def test_event_cast_return(code: str, status: TrackingStatus) -> None:
    """Variant of event-cast-webhook-in-transit.json with a return status."""
    [result] = parse_event_cast(dict(load("event-cast-webhook-in-transit.json"), status=code))
    assert result.status is status


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"city": "SVERIGE", "countryCode": "SE", "country": "Sweden", "postalCode": ""}, Location(country="SE")),
        ({"city": "Norway", "countryCode": "", "country": "", "postalCode": ""}, Location(country="NO")),
        ({"city": "GÖTEBORG", "countryCode": "", "country": "Sweden", "postalCode": "41101"},
         Location(city="GÖTEBORG", postal_code="41101", country="SE")),
    ],
)
async def test_country_name_is_never_the_city(adapter: BringAdapter, fields: dict, expected: Location) -> None:
    """Variant of tracking-loaded-for-delivery.json: an INTERNATIONAL event with a country where the city goes."""
    body = copy.deepcopy(load("tracking-loaded-for-delivery.json"))
    newer_event(body, "INTERNATIONAL", "The shipment has arrived in the destination country.",
                "2010-10-01T08:00:00+02:00", **fields)  # fmt: skip
    result = await serve_body(adapter, body, "TESTPACKAGELOADEDFORDELIVERY")
    assert result.events[-1].location == expected
    assert result.events[-1].location.state is None  # the RAML's Event has no state/region


def test_delivered_result_drops_bring_eta() -> None:
    """Variant of tracking-successfulWithEta.json: delivered while the package still carries its ETA window."""
    body = copy.deepcopy(load("tracking-successfulWithEta.json"))
    newer_event(body, "DELIVERED", "The shipment has been delivered.", "2021-04-20T12:00:00+02:00")
    assert body["consignmentSet"][0]["packageSet"][0]["dateOfEstimatedDelivery"] == "20.04.2021"
    [result] = parse_track_response(body, ["TESTPARCELWITHETA"])
    assert result.status is TrackingStatus.DELIVERED
    assert result.estimated_delivery is None


def test_unreadable_fields_do_not_fail_the_reply() -> None:
    """Variant of tracking-delivered.json: junk in eventSet and an object field sent as a string."""
    body = copy.deepcopy(load("tracking-delivered.json"))
    events_of(body).append("junk")
    events_of(body)[0]["recipientSignature"] = ""
    [result] = parse_track_response(body, ["TESTPACKAGEDELIVERED"])
    assert len(result.events) == 3
    assert result.events[-1].signed_by is None
