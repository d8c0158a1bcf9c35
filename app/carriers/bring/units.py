"""Bring event statuses mapped onto the normalized tracking vocabulary.

Source of the codes: Bring Tracking API v2 RAML (bring/developer-site
`content/api/tracking/api.raml` @4ce29efa, the event table of the 200
response; saved as `carrier-samples/bring/tracking-api-v2.raml`). The Event
Cast API pushes the same vocabulary (`content/api/event-cast/index.md`).

Returns: RETURN ("The package has been returned to sender.") is the start
of the way back (RETURN_TO_SENDER, not final); DELIVERED_SENDER ("Package
has been returned to the sender") is the delivery back (RETURNED, final).
After a RETURN, transit scans are the way back and a DELIVERED is the
delivery to the sender (`app.carriers.returns.ReturnLeg`).

Also here: the country-name helpers for `Event.city`/`Event.country`, the
Booking API products we book (`PRODUCTS`, `SERVICES`) and the Pickup Point
API's point types (`PICKUP_POINT_TYPES`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.carriers import places
from app.carriers.locations import ServicePointType
from app.carriers.shipping import Service
from app.carriers.types import TrackingStatus

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class BringProduct:
    """One Booking API product (`product.id`) and the rules of it we check before calling Bring.

    Sources: Bring's service portfolio (bring/developer-site `data/services_bsg.json`:
    RequestCode, DomesticAllowed, SenderCountries, Destination) and the
    Booking API RAML (`booking-api.raml`: "Select Pickup Point" examples
    266-272 for the products that take `parties.pickupPoint`; `phoneNumber`:
    sender phone mandatory except 3584, 3570 and returns).

    `domestic_in`: countries where sender and recipient may be the same
    country (empty: no domestic booking); `international`: cross-border
    allowed; `senders`/`destinations`: allowed countries (None: any);
    `pickup_point`: takes a chosen pickup point (`service_point_id`);
    `sender_phone`: the sender phone is mandatory.
    """

    code: str
    name: str
    domestic_in: frozenset[str]
    international: bool
    pickup_point: bool = False
    sender_phone: bool = True
    senders: frozenset[str] | None = None
    destinations: frozenset[str] | None = None
    notes: str | None = None

    def service(self) -> Service:
        """The `Service` listed by GET /v1/carriers."""
        return Service(
            code=self.code,
            name=self.name,
            domestic=bool(self.domestic_in),
            international=self.international,
            requires_customs=False,
            notes=self.notes,
        )


_NO = frozenset({"NO"})
_NORDIC = frozenset({"NO", "SE", "DK", "FI"})
_BULK_DESTINATIONS = frozenset({"NO", "SE", "DK", "FI", "DE", "EE", "FO", "GB", "IS", "NL"})

PRODUCTS: tuple[BringProduct, ...] = (
    # Parcel Norway domestic (services_bsg.json, "Main customer number").
    BringProduct("5800", "Pakke til hentested (pickup parcel)", _NO, False, pickup_point=True, senders=_NO,
                 destinations=_NO, notes="Norway domestic; delivered to a pickup point (service_point_id optional)."),
    BringProduct("5600", "Pakke levert hjem (parcel home plus)", _NO, False, senders=_NO, destinations=_NO,
                 notes="Norway domestic home delivery."),
    BringProduct("5000", "Pakke til bedrift (business parcel)", _NO, False, senders=_NO, destinations=_NO,
                 notes="Norway domestic, business recipients."),
    BringProduct("4850", "Ekspress neste dag (business parcel express)", _NO, False, senders=_NO, destinations=_NO,
                 notes="Norway domestic, next-day express."),
    BringProduct("3584", "Pakke i postkassen (home mailbox parcel)", _NO, False, sender_phone=False, senders=_NO,
                 destinations=_NO, notes="Norway domestic; mailbox-sized parcels."),
    BringProduct("3570", "Pakke i postkassen med RFID (home mailbox parcel RFID)", _NO, False, sender_phone=False,
                 senders=_NO, destinations=_NO, notes="Norway domestic; mailbox-sized parcels with RFID."),
    # Parcel Sweden, Denmark, Finland & Parcel Norway cross-border.
    BringProduct("PICKUP_PARCEL", "PickUp Parcel (0340)", frozenset({"SE", "DK"}), True, pickup_point=True,
                 senders=_NORDIC, notes="From NO/SE/DK/FI; domestic only in SE and DK."),
    BringProduct("PICKUP_PARCEL_BULK", "PickUp Parcel Bulk (0342)", frozenset({"SE", "DK"}), True, pickup_point=True,
                 destinations=_BULK_DESTINATIONS, notes="Needs Bring's bulk setup; domestic only in SE and DK."),
    BringProduct("BUSINESS_PARCEL", "Business Parcel (0330)", frozenset({"SE", "DK", "FI"}), True, senders=_NORDIC,
                 notes="From NO/SE/DK/FI; domestic only in SE, DK and FI."),
    BringProduct("HOME_DELIVERY_PARCEL", "Home Delivery Parcel (0349)", frozenset({"SE", "DK"}), True,
                 destinations=_NORDIC, notes="Needs Bring's bulk setup; to NO/SE/DK/FI."),
    # Legacy Norwegian service names the RAML still lists (value-added-services table, examples 266/286).
    BringProduct("SERVICEPAKKE", "Klimanøytral Servicepakke (legacy, 1202)", _NO, False, pickup_point=True,
                 senders=_NO, destinations=_NO, notes="Legacy name; Bring's revised service is 5800."),
    BringProduct("BPAKKE_DOR-DOR", "Bedriftspakke dør-dør (legacy, 1000)", _NO, False, senders=_NO, destinations=_NO,
                 notes="Legacy name; Bring's revised service is 5000."),
    BringProduct("PA_DOREN", "På Døren (legacy, 1736)", _NO, False, senders=_NO, destinations=_NO,
                 notes="Legacy name; Bring's revised service is 5600."),
)  # fmt: skip
"""The products we book, by Booking API `product.id`."""

PRODUCTS_BY_CODE: dict[str, BringProduct] = {product.code: product for product in PRODUCTS}

SERVICES: tuple[Service, ...] = tuple(product.service() for product in PRODUCTS)
"""The services `create_shipment` books (GET /v1/carriers), the Booking API product ids."""

INFORMATIONAL = None
"""Marker in the table: the event changes nothing about where the parcel is."""

BRING_EVENT_STATUSES: dict[str, TrackingStatus | None] = {
    # "EDI message for the package has been received by Bring."
    "PRE_NOTIFIED": TrackingStatus.INFO_RECEIVED,
    # "Package has been handed in to Bring."
    "HANDED_IN": TrackingStatus.IN_TRANSIT,
    # "The parcel has been collected at pickup address."
    "COLLECTED": TrackingStatus.IN_TRANSIT,
    "IN_TRANSIT": TrackingStatus.IN_TRANSIT,
    # "registered/arrived at inbound/outbound storage terminal"
    "TERMINAL": TrackingStatus.IN_TRANSIT,
    # "sent from origin country or arrived at destination country"
    "INTERNATIONAL": TrackingStatus.IN_TRANSIT,
    # "Package is in customs clearance."
    "CUSTOMS": TrackingStatus.IN_TRANSIT,
    # "Package has been loaded for delivery to the recipient."
    "TRANSPORT_TO_RECIPIENT": TrackingStatus.OUT_FOR_DELIVERY,
    # "Package has arrived at pickup point."
    "READY_FOR_PICKUP": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "DELIVERED": TrackingStatus.DELIVERED,
    # "attempted delivered at the door ... tried again or sent to closest pickup point"
    "ATTEMPTED_DELIVERY": TrackingStatus.FAILED_ATTEMPT,
    # "Deviation in production ... probability for delay."
    "DEVIATION": TrackingStatus.EXCEPTION,
    # "Home delivery has been cancelled by the customer." The shipment itself
    # is not cancelled (it usually goes to a pickup point), hence not CANCELLED.
    "DELIVERY_CANCELLED": TrackingStatus.EXCEPTION,
    # "The package has been returned to sender.": sent back, on its way to the sender (not final).
    "RETURN": TrackingStatus.RETURN_TO_SENDER,
    # "Package has been returned to the sender": delivered back to the sender (final).
    "DELIVERED_SENDER": TrackingStatus.RETURNED,
    # Notices and home-delivery bookings: the parcel has not moved.
    "NOTIFICATION_SENT": INFORMATIONAL,
    "DELIVERY_ORDERED": INFORMATIONAL,
    "DELIVERY_CHANGED": INFORMATIONAL,
    # "Represents unknown / undefined events" - documented, so not logged.
    "UNKNOWN": TrackingStatus.UNKNOWN,
}


def normalize_event_status(code: str | None, previous: TrackingStatus | None) -> TrackingStatus:
    """The normalized status of one Bring event `status` code.

    Informational codes (notices, delivery bookings) keep `previous`, the
    status of the event before it, or UNKNOWN when there is none. A code
    missing from `BRING_EVENT_STATUSES` gives UNKNOWN and a warning log.
    """
    key = (code or "").strip().upper()
    if key not in BRING_EVENT_STATUSES:
        logger.warning("bring: unmapped event status %r, normalized to unknown", code)
        return TrackingStatus.UNKNOWN
    mapped = BRING_EVENT_STATUSES[key]
    if mapped is INFORMATIONAL:
        return previous or TrackingStatus.UNKNOWN
    return mapped


NAME_LOCALES = ("en", "nb", "nn", "sv", "da", "fi", "de", "fr")
"""Languages whose country names Bring may write (its `lang` values en/no/sv/dk, plus neighbours)."""


def place_and_country(city: str | None, country_code: str | None, country_name: str | None) -> tuple[str | None, str | None]:
    """`(city, alpha-2 country)` of a Bring event.

    A `city` that is a country name (Bring writes e.g. "NORGE" or "Sweden"
    there for international events) is no city: it is dropped and, when no
    country code is given, taken as the country. The country is a 2-letter
    `countryCode`, else the `country` name ("Norway") (`app.carriers.places`).
    """
    return places.place_and_country(city, places.alpha2(country_code), country_name, NAME_LOCALES)


PICKUP_POINT_TYPES: dict[str, ServicePointType] = {
    # Norway: 1 Bedriftssenter, 19 Posten pakkeutlevering and 21 Postkontor are Posten's own counters;
    # 4 Post i Butikk and 32 Postpunkt are shops; 37 Pakkeboks (unmanned) and 27 (named "Pakkeautomat"
    # in by_postal_code.json) are lockers.
    "1": "post_office",
    "19": "post_office",
    "21": "post_office",
    "4": "service_point",
    "32": "service_point",
    "27": "locker",
    "37": "locker",
    # Sweden: 34 manned, 38 iBoxen locker, 39 Bring locker.
    "34": "service_point",
    "38": "locker",
    "39": "locker",
    # Denmark: 85 manned (sent as "085"), 86 locker ("086", SwipBOX); 43 locker in older docs.
    "85": "service_point",
    "86": "locker",
    "43": "locker",
    # Finland: SmartPOST (Posti's parcel terminals), LOCKER, and the manned Posti / Noutopiste points.
    "SMARTPOST": "locker",
    "LOCKER": "locker",
    "POSTI": "service_point",
    "NOUTOPISTE": "service_point",
}
"""Pickup Point API `type` -> our point type (developer.bring.com/api/pickup-point, "Pickup point types").

Numeric codes are compared without leading zeros ("085" is 85), the others upper-cased."""

LOCKER_NAME_WORDS = ("pakkeboks", "pakkeautomat", "paketbox", "paketautomat", "swipbox", "locker", "pakettiautomaatti")
"""Words in a point's name that make an unlisted `type` a locker."""


def pickup_point_type(code: str | None, name: str | None) -> ServicePointType:
    """Our type of a Bring pickup point from its `type` code (`PICKUP_POINT_TYPES`).

    An unlisted or missing code is a locker when the name says so
    (`LOCKER_NAME_WORDS`), otherwise a staffed service point.
    """
    key = (code or "").strip().upper()
    if key.isdigit():
        key = key.lstrip("0") or "0"
    if key in PICKUP_POINT_TYPES:
        return PICKUP_POINT_TYPES[key]
    lowered = (name or "").casefold()
    return "locker" if any(word in lowered for word in LOCKER_NAME_WORDS) else "service_point"
