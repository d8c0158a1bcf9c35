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
"""

from __future__ import annotations

import logging

from app.carriers.types import TrackingStatus

logger = logging.getLogger(__name__)

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
    # Refused by the recipient: delivery is over, a return usually follows.
    "DELIVERY_REFUSED": TrackingStatus.EXCEPTION,
    "RETURNED": TrackingStatus.RETURNED,
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


def normalize_status(
    value: str | None, previous: TrackingStatus | None, *, what: str = "event status"
) -> TrackingStatus:
    """The normalized status of one PostNord status value.

    Informational values (OTHER, SPLIT) keep `previous`, or give UNKNOWN
    when there is none. A value missing from `POSTNORD_STATUSES` gives
    UNKNOWN and a warning log naming `what` it was.
    """
    key = (value or "").strip().upper()
    if key not in POSTNORD_STATUSES:
        logger.warning("postnord: unmapped %s %r, normalized to unknown", what, value)
        return TrackingStatus.UNKNOWN
    mapped = POSTNORD_STATUSES[key]
    if mapped is INFORMATIONAL:
        return previous or TrackingStatus.UNKNOWN
    return mapped


def country_alpha2(value: str | None) -> str | None:
    """ISO alpha-2 for a PostNord country code (alpha-2 as is, known alpha-3 converted), else None."""
    code = (value or "").strip().upper()
    if len(code) == 2 and code.isalpha():
        return code
    return COUNTRY_ALPHA3_TO_ALPHA2.get(code)
