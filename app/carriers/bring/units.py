"""Bring event statuses mapped onto the normalized tracking vocabulary.

Source of the codes: Bring Tracking API v2 RAML (bring/developer-site
`content/api/tracking/api.raml` @4ce29efa, the event table of the 200
response; saved as `carrier-samples/bring/tracking-api-v2.raml`). The Event
Cast API pushes the same vocabulary (`content/api/event-cast/index.md`).
"""

from __future__ import annotations

import logging

from app.carriers.types import TrackingStatus

logger = logging.getLogger(__name__)

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
    # "The package has been returned to sender." (on its way back)
    "RETURN": TrackingStatus.RETURNED,
    # "Package has been returned to the sender" (handed back)
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
