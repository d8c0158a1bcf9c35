"""Replies for the PostNord tests, BUILT from PostNord's own Track & Trace v7 OpenAPI document.

No real PostNord tracking response is published (see the samples README,
section 4), and PostNord's OpenAPI document
(`openapi-track-and-trace-v7-findbyidentifier.swagger.json`, v1.0.1)
carries no whole response example: its only examples are enum/scalar ones
(`ShipmentStatus`/`itemStatus` "CREATED", `locationType` "HUB",
`WeightDto.value` "11.92", `WeightUnit` "g"). So the replies used here are
BUILT in this file: from the spec's schema (`ResponseDto` ->
`TrackingInformationResponse` -> `ShipmentDto` -> `ItemDto` ->
`TrackingEventDto`, `LocationDto`, `DeliveryPointDto`), with the spec's
own examples and enum values loaded from the swagger file, and with the
event code/status/text triples that the samples README quotes from
LibreTrack's PostNord tests (68 INFORMED, 31 EN_ROUTE,
1 AVAILABLE_FOR_DELIVERY, z08 OTHER, 21 DELIVERED). Every built reply is
checked against the spec's schema first (`assert_conforms`), so a field
name the parser reads is a field name PostNord documents. Ids, places and
times are invented. The 403 reply is the saved sample
`error-403-invalid-api-key.json` (probably a sandbox capture).
"""

from __future__ import annotations

import copy
from functools import partial
from typing import Any

import httpx
import respx

from app.carriers.postnord.adapter import PostNordAdapter
from app.carriers.types import ServicePoint
from tests.carriers.helpers import load_json_sample

SPEC_FILE = "openapi-track-and-trace-v7-findbyidentifier.swagger.json"
SHIPMENT_ID = "TESTSHIPMENT00001SE"
ITEM_ID = "TESTITEM0000000001SE"
API_KEY = "0123456789abcdef0123456789abcdef"
PROD_URL = f"https://api2.postnord.com/rest/shipment/v7/trackandtrace/id/{SHIPMENT_ID}/public"


load = partial(load_json_sample, "postnord")
"""One PostNord sample file parsed as JSON, or skip the test when the shared samples are not checked out."""


def schemas(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["components"]["schemas"]


def assert_conforms(spec: dict[str, Any], value: Any, schema: dict[str, Any], path: str = "$") -> None:
    """Check `value` against a schema of the spec: declared property names only, required ones present, enums kept."""
    if "$ref" in schema:
        schema = schemas(spec)[schema["$ref"].rsplit("/", 1)[-1]]
    for part in schema.get("allOf", []):
        if "$ref" in part:
            assert_conforms(spec, value, part, path)
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in the spec's enum"
    kind = schema.get("type")
    if kind == "array":
        assert isinstance(value, list), path
        for index, element in enumerate(value):
            assert_conforms(spec, element, schema["items"], f"{path}[{index}]")
    elif kind == "object" and "properties" in schema:
        assert isinstance(value, dict), path
        for name in schema.get("required", []):
            assert name in value, f"{path}: required {name!r} missing"
        for name, element in value.items():
            assert name in schema["properties"], f"{path}: {name!r} is not a property in the spec"
            assert_conforms(spec, element, schema["properties"][name], f"{path}.{name}")
    elif kind == "string":
        assert isinstance(value, str), path

def example(spec: dict[str, Any], name: str) -> Any:
    """The `example` the spec gives for a component schema."""
    return schemas(spec)[name]["example"]


def build_reply(spec: dict[str, Any]) -> dict[str, Any]:
    """A findByIdentifier reply assembled from the spec (see the module docstring); checked against the spec."""
    hub = example(spec, "LocationType")  # "HUB"
    assert "SERVICE_POINT" in schemas(spec)["LocationType"]["enum"]
    service_point_location = {
        "locationId": "123456",
        "locationType": "SERVICE_POINT",
        "displayName": "ICA Testbutiken",
        "name": "ICA Testbutiken",
        "postcode": "11122",
        "city": "Stockholm",
        "countryCode": "SWE",  # alpha-3, as in PostNord v5 data
        "country": "Sweden",
    }
    events = [
        {
            "eventTime": "2021-03-01T10:15:00",  # no offset: Stockholm winter time (+01:00)
            "eventCode": "68",
            "status": "INFORMED",
            "eventDescription": "We have received a notification from your shipper…",
            "location": {"locationId": "0", "locationType": "UNDEF"},
        },
        {
            "eventTime": "2021-03-02T06:40:00+01:00",  # with an offset
            "eventCode": "31",
            "status": "EN_ROUTE",
            "eventDescription": "The shipment item is under transportation.",
            "location": {
                "locationId": "900100",
                "locationType": hub,
                "displayName": "Jönköping Terminal",
                "postcode": "55303",
                "city": "Jönköping",
                "countryCode": "SE",
            },
        },
        {
            "eventTime": "2021-03-29T14:05:00",  # no offset, after the 28 March DST switch: +02:00
            "eventCode": "1",
            "status": "AVAILABLE_FOR_DELIVERY",
            "eventDescription": "…delivered to a service point.",
            "location": service_point_location,
        },
        {
            "eventTime": "2021-03-29T14:06:00",
            "eventCode": "z08",
            "status": "OTHER",
            "eventDescription": "E-mail notification has been sent…",
            "location": service_point_location,
        },
        {
            "eventTime": "2021-03-30T16:20:00Z",
            "eventCode": "21",
            "status": "DELIVERED",
            "eventDescription": "The shipment item has been delivered.",
            "location": service_point_location,
        },
    ]
    reply = {
        "TrackingInformationResponse": {
            "shipments": [
                {
                    "shipmentId": SHIPMENT_ID,
                    "status": "DELIVERED",
                    "deliveryPoint": {
                        "locationId": "123456",
                        "locationType": "SERVICE_POINT",
                        "displayName": "ICA Testbutiken",
                        "address": {
                            "street1": "Testgatan 1",
                            "postCode": "11122",
                            "city": "Stockholm",
                            "countryCode": "SE",
                        },
                    },
                    "totalWeight": {
                        "value": schemas(spec)["WeightDto"]["properties"]["value"]["example"],
                        "unit": example(spec, "WeightUnit"),
                    },
                    "items": [
                        {
                            "itemId": ITEM_ID,
                            "status": "DELIVERED",
                            "estimatedTimeOfArrival": "2021-03-29T12:00:00",
                            "events": events,
                        }
                    ],
                }
            ]
        }
    }
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    return reply


def until(reply: dict[str, Any], last_code: str) -> dict[str, Any]:
    """`reply` with the item's events cut after the event with eventCode `last_code`."""
    trimmed = copy.deepcopy(reply)
    item = trimmed["TrackingInformationResponse"]["shipments"][0]["items"][0]
    codes = [e["eventCode"] for e in item["events"]]
    item["events"] = item["events"][: codes.index(last_code) + 1]
    return trimmed


PICKUP_POINT = ServicePoint(
    id="123456", name="ICA Testbutiken", address="Testgatan 1", city="Stockholm", postal_code="11122", country="SE"
)


async def serve(adapter: PostNordAdapter, number: str, response: httpx.Response):
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"https://api2.postnord.com/rest/shipment/v7/trackandtrace/id/{number}/public").mock(
            return_value=response
        )
        results = await adapter.track([number])
    return results, route


def reply_eta(reply: dict[str, Any]) -> str:
    return reply["TrackingInformationResponse"]["shipments"][0]["items"][0]["estimatedTimeOfArrival"]


def item_of(reply: dict[str, Any]) -> dict[str, Any]:
    return reply["TrackingInformationResponse"]["shipments"][0]["items"][0]


def add_event(reply: dict[str, Any], when: str, code: str, status: str, text: str, **location: str) -> None:
    item_of(reply)["events"].append(
        {"eventTime": when, "eventCode": code, "status": status, "eventDescription": text,
         "location": location or {"locationId": "900100", "locationType": "HUB", "city": "Jönköping",
                                  "postcode": "55303", "countryCode": "SE"}}
    )  # fmt: skip


def return_reply(spec: dict[str, Any]) -> dict[str, Any]:
    """Variant: not collected at the service point, sent back. Texts in the style of PostNord's English locale."""
    reply = until(build_reply(spec), "z08")
    item = item_of(reply)
    item["status"] = "RETURNED"
    reply["TrackingInformationResponse"]["shipments"][0]["status"] = "RETURNED"
    add_event(reply, "2021-04-12T09:00:00", "86", "RETURNED",
              "The shipment item was not collected and is being returned to the sender.")  # fmt: skip
    add_event(reply, "2021-04-13T05:00:00", "31", "EN_ROUTE", "The shipment item is under transportation.")
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    return reply
