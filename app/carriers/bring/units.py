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

Also here: the country-name helpers for `Event.city`/`Event.country`.
"""

from __future__ import annotations

import logging

from app.carriers import places
from app.carriers.shipping import Service
from app.carriers.types import TrackingStatus

logger = logging.getLogger(__name__)

SERVICES: tuple[Service, ...] = ()
"""The services we can book: none yet. Booking over the Booking API (`booking-api.raml`, product ids)
comes with a later issue (`bring/shipping.py`); its service codes go here then."""

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
