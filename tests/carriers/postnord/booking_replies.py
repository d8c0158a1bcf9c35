"""Booking and service point replies for the PostNord tests, BUILT from PostNord's own specs.

The samples hold PostNord's error replies (`booking-error-validation.json`,
`error-403-invalid-api-key.json`, loaded as they are) but no successful
booking or service point reply: the Booking API v3 Swagger
(`openapi-booking-v3.swagger.json`) and Service Points V5
(`openapi-servicepoints-v5.swagger.json`) carry property-level examples only.
So the 200 replies here are assembled from the specs' definitions
(`ediLabelResponse`, `ResponseDto` -> `ServicePointInformationStore`) with the
specs' example values where they give one (bookingId, printId, the tracking
URL, typeName "Parcel Box Location", coordinates of Solna), and every built
reply is checked against the spec (`tests.carriers.helpers.spec_errors`) before use.
Ids, names and places are invented.
"""

from __future__ import annotations

import base64
import copy
from functools import partial
from typing import Any

from app.carriers.postnord.adapter import PostNordAdapter, PostNordCredentials
from app.carriers.shipping import ShipmentRequest
from tests.carriers.helpers import load_json_sample, spec_errors

API_KEY = "0123456789abcdef0123456789abcdef"
CUSTOMER_NUMBER = "1234567890"
BOOKING_SPEC = "openapi-booking-v3.swagger.json"
POINTS_SPEC = "openapi-servicepoints-v5.swagger.json"
PROD = "https://api2.postnord.com"
SANDBOX = "https://atapi2.postnord.com"
PDF_URL = f"{PROD}/rest/shipment/v3/edi/labels/pdf"
ZPL_URL = f"{PROD}/rest/shipment/v3/edi/labels/zpl"
NEAREST_URL = f"{PROD}/rest/businesslocation/v5/servicepoints/nearest/byaddress"
IDS_URL = f"{PROD}/rest/businesslocation/v5/servicepoints/ids"
SHIPMENT_ID = "70701234567SE"
ITEM_IDS = ["00370712345678901230", "00370712345678901247", "00370712345678901254"]
ZPL = "^XA^FO50,50^A0N,50,50^FDPostNord test^FS^XZ"
KEY = "3b241101-e2bb-4255-8caf-4136c566a962"

load = partial(load_json_sample, "postnord")


def adapter_for(http: Any, *, environment: str = "production", **credentials: Any) -> PostNordAdapter:
    """A PostNord adapter with the test key and (unless overridden) a customer number."""
    values = {"api_key": API_KEY, "customer_number": CUSTOMER_NUMBER, **credentials}
    return PostNordAdapter(credentials=PostNordCredentials(**values), http=http, environment=environment)  # type: ignore[arg-type]


def address(which: str = "SE", **overrides: Any) -> dict[str, Any]:
    """A test address: "SE" (the shipper), "SE2" (a Swedish recipient), "NO", "DK"; `overrides` replace members."""
    base = {
        "SE": {"name": "Ada Avsändare", "company": "Acme AB", "address_lines": ["Terminalvägen 24"], "city": "Solna",
               "postal_code": "17173", "country": "SE", "phone": "+46701234567", "email": "ada@example.se"},
        "SE2": {"name": "Bo Mottagare", "address_lines": ["Sveavägen 1"], "city": "Stockholm",
                "postal_code": "11157", "country": "SE", "phone": "+46709876543", "email": "bo@example.se"},
        "NO": {"name": "Ola Nordmann", "address_lines": ["Karl Johans gate 1"], "city": "Oslo",
               "postal_code": "0154", "country": "NO", "phone": "+4722123456"},
        "DK": {"name": "Mette Hansen", "address_lines": ["Vesterbrogade 1"], "city": "København",
               "postal_code": "1620", "country": "DK", "phone": "+4533123456"},
    }[which]  # fmt: skip
    return {**base, **overrides}


def shipment_request(**overrides: Any) -> ShipmentRequest:
    """A MyPack Home booking within Sweden (one 1.5 kg parcel, PDF), with `overrides` applied to the body."""
    body: dict[str, Any] = {
        "service": "17",
        "shipper": address("SE"),
        "recipient": address("SE2"),
        "parcels": [{"weight_grams": 1500, "length_mm": 300, "width_mm": 200, "height_mm": 100}],
        "reference": "order-1001",
        "idempotency_key": KEY,
    }
    body.update(overrides)
    return ShipmentRequest.model_validate(body)


def pdf_bytes(number: str) -> bytes:
    return b"%PDF-1.4\n% PostNord label " + number.encode() + b"\n%%EOF"


def booking_reply(items: list[str] | None = None, *, fmt: str = "PDF", encoding: str = "base64") -> dict[str, Any]:
    """A 200 `ediLabelResponse`: one OK shipment with `items` (default one) and one LABEL printout per item."""
    items = items or ITEM_IDS[:1]
    printouts = []
    for number in items:
        content = pdf_bytes(number) if fmt == "PDF" else ZPL.replace("PostNord test", number).encode()
        data = base64.b64encode(content).decode() if encoding == "base64" else content.decode()
        printouts.append(
            {
                "itemIds": [{"itemIds": number, "printId": "31eed2dad84b48a2ba92a26590a0a69f", "status": "OK"}],
                "printout": {"id": "123456", "type": "LABEL", "labelFormat": fmt, "encoding": encoding, "data": data},
                "printoutComposition": {"label": 1},
            }
        )
    reply = {
        "bookingResponse": {
            "bookingId": "3YSFH8NG0LNREZO38UIN68B3RRWL4X",
            "idInformation": [
                {
                    "status": "OK",
                    "references": {"shipment": [{"referenceNo": "order-1001", "referenceType": "CU"}]},
                    "ids": [{"idType": "itemId", "value": n, "printId": "31eed2dad84b48a2ba92a26590a0a69f"} for n in items]
                    + [{"idType": "shipmentId", "value": SHIPMENT_ID}],
                    "urls": [{"type": "TRACKING", "url": f"https://tracking.postnord.com/se/?id={items[0]}"}],
                }
            ],
        },
        "labelPrintout": printouts,
    }
    return reply


def failed_reply() -> dict[str, Any]:
    """A 200 whose only shipment is FAIL with PostNord's faults (the sample's faults) and no ids."""
    error = load("booking-error-validation.json")
    return {
        "bookingResponse": {
            "bookingId": "3YSFH8NG0LNREZO38UIN68B3RRWL4X",
            "idInformation": [{"status": "FAIL", "errorResponse": copy.deepcopy(error)}],
        }
    }


def assert_booking_reply_conforms(spec: dict[str, Any], reply: dict[str, Any]) -> None:
    assert spec_errors(spec, "ediLabelResponse", reply) == []


# --------------------------------------------------------------------------- service points


def point(
    point_id: str,
    name: str,
    *,
    type_id: int,
    type_name: str,
    distance: int,
    lat: float,
    lon: float,
    hours: list[dict[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One `ServicePointInformationStore` (public response filter fields)."""
    value: dict[str, Any] = {
        "servicePointId": point_id,
        "name": name,
        "routeDistance": distance,
        "visitingAddress": {"countryCode": "SE", "city": "SOLNA", "streetName": "Terminalvägen", "streetNumber": "24",
                            "postalCode": "17173", "addressType": "VISITING"},
        "deliveryAddress": {"countryCode": "SE", "city": "SOLNA", "streetName": "Terminalvägen", "streetNumber": "24B",
                            "postalCode": "17173", "addressType": "DELIVERY"},
        "coordinates": [{"countryCode": "SE", "northing": lat, "easting": lon, "srId": "EPSG:4326"}],
        "openingHours": {"postalServices": hours or []},
        "type": {"groupTypeId": type_id, "groupTypeName": type_name, "typeId": type_id, "typeName": type_name},
    }  # fmt: skip
    value.update(extra)
    return value


def weekdays(opens: str, closes: str, days: tuple[str, ...] = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")) -> list[dict[str, str]]:
    return [{"openDay": d, "openTime": opens, "closeDay": d, "closeTime": closes} for d in days]


def points_reply(*points: dict[str, Any]) -> dict[str, Any]:
    """A 200 `ResponseDto` with `points`, nearest first."""
    return {
        "servicePointInformationResponse": {
            "customerSupports": [{"customerSupportPhoneNo": "+46771333310", "country": "SE"}],
            "servicePoints": list(points),
        }
    }


def three_points() -> dict[str, Any]:
    """An agent (typeId 25), a parcel box (typeId 2 with boxType) and a PostNord delivery office (typeId 54)."""
    return points_reply(
        point("020001", "ICA Nära Solna", type_id=25, type_name="Servicepoint", distance=412, lat=59.35014139999998,
              lon=18.009889600000005,
              hours=weekdays("08:00", "21:00") + [{"openDay": "SATURDAY", "openTime": "10:00", "closeDay": "SATURDAY",
                                                    "closeTime": "18:00"}]),
        point("376062", "PostNord Paketbox Solna C", type_id=2, type_name="Parcel Box Location", distance=850,
              lat=59.3601, lon=18.0003,
              hours=[{"openDay": "FRIDAY", "openTime": "22:00", "closeDay": "SATURDAY", "closeTime": "02:00"}],
              ),
        point("100777", "PostNord Utlämning Solna", type_id=54, type_name="Delivery Office", distance=1300,
              lat=59.3655, lon=17.9912, hours=weekdays("07:00", "00:00", ("MONDAY",))),
    )  # fmt: skip


def with_box_type(reply: dict[str, Any]) -> dict[str, Any]:
    """The reply with the parcel box's `type.boxType` (spec `BoxType`) filled in."""
    reply = copy.deepcopy(reply)
    reply["servicePointInformationResponse"]["servicePoints"][1]["type"]["boxType"] = {
        "label": "MyBox",
        "id": 3,
        "located": "outdoor",
    }
    return reply


def assert_points_reply_conforms(spec: dict[str, Any], reply: dict[str, Any]) -> None:
    assert spec_errors(spec, "ResponseDto", reply) == []
