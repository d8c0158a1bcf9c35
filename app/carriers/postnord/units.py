"""PostNord status values mapped onto the normalized tracking vocabulary.

Source of the codes: PostNord "Track & Trace API v7 - FindByIdentifier -
Public" OpenAPI 3.0.1, v1.0.1 (developer.postnord.com, vendored in
Joaqim/karrio @24beaf3c; saved as
`carrier-samples/postnord/openapi-track-and-trace-v7-findbyidentifier.swagger.json`):
enums `ShipmentStatus` (Status18), `itemStatus` and `status`. The spec gives
`TrackingEventDto.status` as a free string and documents no `eventCode`
list; the event examples known (LibreTrack tests, quoted in the samples
README: 68 INFORMED, 31 EN_ROUTE, 1 AVAILABLE_FOR_DELIVERY, z08 OTHER,
21 DELIVERED) carry these same enum values in `status`, so events are
mapped by `status` and `eventCode` is kept as the carrier code.

Returns: the spec gives RETURNED no definition. PostNord sets it when the
return starts (the parcel is then on its way back: RETURN_TO_SENDER, not
final); it is final (RETURNED) only where PostNord's text says the parcel
reached the sender (`return_status`), and a DELIVERED during a return is the
delivery back to the sender (`app.carriers.returns.ReturnLeg`).

Also here: the country helpers for `LocationDto`/`AddressDto` (alpha-3
codes, country names that must never be read as a city), and the booking
tables of the Booking API v3 (`openapi-booking-v3.swagger.json`): the products
we book (`PRODUCTS`, `SERVICES`), issuer codes, party id types, customs
categories and the units of the EDI instruction (KGM, CMT).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

from app.carriers import places
from app.carriers.fields import text_of
from app.carriers.shipping import Service
from app.carriers.types import TrackingStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Product:
    """One PostNord product we book: its `basicServiceCode` and the rules of `POST /v1/labels` for it.

    `service_point`: "required" (the recipient collects it at the chosen
    point: `service_point_id` must be given), or "refused" (delivered to the
    recipient's address: a `service_point_id` is an error). `domestic_in`:
    the only country it runs within (shipper and recipient), None for any lane;
    `international_only`: shipper and recipient countries must differ;
    `max_weight_grams`: the heaviest parcel PostNord takes, None when we do not check.
    """

    code: str
    name: str
    service_point: Literal["required", "refused"] = "refused"
    domestic_in: str | None = None
    international_only: bool = False
    max_weight_grams: int | None = None
    notes: str | None = None

    def service(self) -> Service:
        """The `Service` listed by GET /v1/carriers."""
        return Service(
            code=self.code,
            name=self.name,
            domestic=not self.international_only,
            international=self.domestic_in is None,
            notes=self.notes,
        )


PRODUCTS: dict[str, Product] = {
    product.code: product
    for product in (
        Product(
            "17",
            "MyPack Home",
            notes="Home delivery to a consumer (SE, DK, FI, NO and onwards).",
        ),
        Product(
            "19",
            "MyPack Collect",
            service_point="required",
            notes="Delivered to the pickup point the recipient chose: `service_point_id` (a servicePointId of "
            "GET /v1/service-points) is required; booked with additional service A7 (optional service point).",
        ),
        Product("18", "PostNord Parcel", notes="Business parcel (Företagspaket), delivered to the recipient's address."),
        Product("30", "MyPack Home Small", notes="Small home-delivery parcel (fits a mailbox)."),
        Product(
            "86",
            "Varubrev 1:a klass",
            domestic_in="SE",
            max_weight_grams=2000,
            notes="Goods letter within Sweden, at most 2 kg.",
        ),
        Product(
            "91",
            "Postpaket Utrikes (International Parcel)",
            international_only=True,
            notes="International parcel; customs declaration (CN23) across a customs border.",
        ),
    )
}
"""The products `create_shipment` books, by PostNord `basicServiceCode` (Booking API v3 `service.basicServiceCode`,
a free string of 1-10 characters in the spec; codes as published by PostNord and used by the karrio connector)."""

SERVICES: tuple[Service, ...] = tuple(product.service() for product in PRODUCTS.values())
"""The services we book (`PRODUCTS`), as listed by GET /v1/carriers."""

OPTIONAL_SERVICE_POINT = "A7"
"""Additional service code "optional service point": the recipient's chosen pickup point (`deliveryParty`)."""
SERVICE_POINT_PARTY_ID_TYPE = "156"
"""`partyIdType` of a service point id in `deliveryParty` (spec `partyIdType`: "156 = Service point ID in deliveryParty")."""
CUSTOMER_NUMBER_PARTY_ID_TYPE = "160"
"""`partyIdType` of the consignor's customer number (spec `partyIdType`: "160 = Customer number")."""

ISSUER_CODES: dict[str, str] = {"DK": "Z11", "SE": "Z12", "NO": "Z13", "FI": "Z14"}
"""Country of the customer's PostNord agreement -> `issuerCode` (spec `issuerCode`: Z11 Denmark, Z12 Sweden,
Z13 Norway, Z14 Finland; ZDL Direct Link needs its own agreement and is only taken from the credentials)."""

CATEGORY_TYPES: dict[str, str] = {
    "merchandise": "SALE OF GOODS",
    "documents": "DOCUMENT",
    "gift": "GIFT",
    "sample": "COMMERCIAL SAMPLE",
    "return": "RETURNED GOODS",
    "other": "OTHER",
}
"""Our `customs.contents_type` -> CN22/CN23 `categoryOfItem.categoryType` (spec `categoryType`)."""

INCOTERMS = frozenset({"EXW", "DDP", "DAP", "DAT", "FCA", "FAS", "FOB", "CFR", "CIF", "CPT", "CIP"})
"""The `termsOfDelivery.todConditionCode` values the spec lists (sent with todConditionCodeList 1990 = INCOTERMS)."""


def kilograms(grams: int) -> float:
    """`grams` as the spec's `weight.value` in KGM (3 decimals: gram precision)."""
    return round(grams / 1000, 3)


def centimetres(mm: int) -> float:
    """`mm` as the spec's dimension `value` in CMT (1 decimal: millimetre precision)."""
    return round(mm / 10, 1)


INFORMATIONAL = None
"""Marker in the table: the value says nothing new about where the parcel is."""

POSTNORD_STATUSES: dict[str, TrackingStatus | None] = {
    "CREATED": TrackingStatus.INFO_RECEIVED,
    "INFORMED": TrackingStatus.INFO_RECEIVED,
    "EN_ROUTE": TrackingStatus.IN_TRANSIT,
    # The vocabulary has no delay flag: a delayed parcel is still moving.
    # `riskForDelay` and the raw status stay available to callers.
    "DELAYED": TrackingStatus.IN_TRANSIT,
    "EXPECTED_DELAY": TrackingStatus.IN_TRANSIT,
    # PostNord uses this for parcels waiting at a service point (LibreTrack
    # example "...delivered to a service point."); PAR_LOC = parcel locker.
    "AVAILABLE_FOR_DELIVERY": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "AVAILABLE_FOR_DELIVERY_PAR_LOC": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "DELIVERED": TrackingStatus.DELIVERED,
    "DELIVERY_IMPOSSIBLE": TrackingStatus.FAILED_ATTEMPT,
    # Refused by the recipient: the parcel goes back to the sender.
    "DELIVERY_REFUSED": TrackingStatus.RETURN_TO_SENDER,
    # Set when the return starts; final only once back at the sender (see `return_status`).
    "RETURNED": TrackingStatus.RETURN_TO_SENDER,
    "STOPPED": TrackingStatus.EXCEPTION,
    # Notices (e.g. z08 "E-mail notification has been sent") and the like.
    "OTHER": INFORMATIONAL,
    # Shipment level only: the items differ; their own statuses decide.
    "SPLIT": INFORMATIONAL,
    # Not in the v7 spec; ha-postnord reports it for "out for delivery" (unverified).
    "DELIVERY": TrackingStatus.OUT_FOR_DELIVERY,
}

PICKUP_STATUSES = frozenset({"AVAILABLE_FOR_DELIVERY", "AVAILABLE_FOR_DELIVERY_PAR_LOC"})
"""Raw values that mean "waiting at a service point / parcel locker"."""

COUNTRY_ALPHA3_TO_ALPHA2: dict[str, str] = {
    # PostNord v5 data used ISO alpha-3 ("SWE"); these are the countries a
    # Nordic parcel most often passes through. Others are left out (None).
    "SWE": "SE",
    "NOR": "NO",
    "DNK": "DK",
    "FIN": "FI",
    "ISL": "IS",
    "ALA": "AX",
    "FRO": "FO",
    "GRL": "GL",
    "DEU": "DE",
    "NLD": "NL",
    "BEL": "BE",
    "POL": "PL",
    "EST": "EE",
    "LVA": "LV",
    "LTU": "LT",
    "GBR": "GB",
    "FRA": "FR",
    "CHN": "CN",
    "USA": "US",
}


def status_value(value: Any) -> str | None:
    """A status enum value as text; tolerates the `{code, header, ...}` object some PostNord views send."""
    if isinstance(value, dict):
        value = value.get("code")
    return text_of(value)


# PostNord writes its texts in the asked locale (we ask "en"); the other
# locales of the spec (sv, no, da, fi) are matched too. Casefolded substrings.
_RETURN_UNDER_WAY = (
    "being returned", "will be returned", "on its way back", "on the way back", "is returning", "returning to",
    "returneras", "på väg tillbaka", "returneres", "på vei tilbake", "på vej tilbage", "palautetaan",
)  # fmt: skip
_BACK_AT_SENDER = re.compile(
    r"(has|have|was) been returned|(delivered|handed over|handed back) to (the )?(sender|shipper|consignor)"
    r"|delivered back|returned to (the )?(sender|shipper)"
    r"|har returnerats|returnerad till avsändaren|(levererad|utlämnad|utlämnat|levererat) till avsändaren"
    r"|er returnert|levert til avsender|er returneret|leveret til afsender|palautettu lähettäjälle"
)
"""Text saying the parcel reached the sender (checked after `_RETURN_UNDER_WAY`)."""


def return_status(text: str | None) -> TrackingStatus | None:
    """What PostNord's text says about a return: RETURN_TO_SENDER (under way), RETURNED (back at the sender), or None."""
    folded = (text or "").casefold()
    if not folded:
        return None
    if any(phrase in folded for phrase in _RETURN_UNDER_WAY):
        return TrackingStatus.RETURN_TO_SENDER
    if _BACK_AT_SENDER.search(folded):
        return TrackingStatus.RETURNED
    return None


def normalize_status(
    value: str | None, previous: TrackingStatus | None, *, text: str | None = None, what: str = "event status"
) -> TrackingStatus:
    """The normalized status of one PostNord status value, `text` being its event description / status text.

    Informational values (OTHER, SPLIT) keep `previous`, or give UNKNOWN
    when there is none. RETURNED/DELIVERY_REFUSED give RETURN_TO_SENDER, or
    RETURNED when `text` says the parcel is back at the sender; DELIVERED
    gives RETURNED when `text` says it was delivered to the sender. A value
    missing from `POSTNORD_STATUSES` gives UNKNOWN and a warning log naming
    `what` it was.
    """
    key = (value or "").strip().upper()
    if key not in POSTNORD_STATUSES:
        logger.warning("postnord: unmapped %s %r, normalized to unknown", what, value)
        return TrackingStatus.UNKNOWN
    mapped = POSTNORD_STATUSES[key]
    if mapped is INFORMATIONAL:
        return previous or TrackingStatus.UNKNOWN
    if mapped is TrackingStatus.RETURN_TO_SENDER and return_status(text) is TrackingStatus.RETURNED:
        return TrackingStatus.RETURNED
    if mapped is TrackingStatus.DELIVERED and return_status(text) is TrackingStatus.RETURNED:
        return TrackingStatus.RETURNED
    return mapped


def country_alpha2(value: str | None) -> str | None:
    """ISO alpha-2 for a PostNord country code (alpha-2 as is, known alpha-3 converted), else None."""
    code = (value or "").strip().upper()
    if len(code) == 2 and code.isalpha():
        return code
    return COUNTRY_ALPHA3_TO_ALPHA2.get(code)


NAME_LOCALES = ("en", "sv", "nb", "nn", "da", "fi", "de", "fr")
"""Languages whose country names PostNord may write (its locales, plus the neighbours' languages)."""


def place_and_country(city: str | None, country_code: str | None, country_name: str | None) -> tuple[str | None, str | None]:
    """`(city, alpha-2 country)` of a LocationDto/AddressDto.

    A `city` that is a country name (PostNord writes e.g. "Sverige" there
    for a national hub) is no city: it is dropped and, when no country code
    is given, taken as the country. The country is `countryCode` (alpha-2,
    or a known alpha-3), else the `country` name (`app.carriers.places`).
    """
    return places.place_and_country(city, country_alpha2(text_of(country_code)), country_name, NAME_LOCALES)
