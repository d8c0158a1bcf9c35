"""FedEx tracking codes -> normalized `TrackingStatus`, and the FedEx services we book.

Source: FedEx developer portal appendix "Tracking Status Codes"
(`carrier-samples/fedex/reference-fedex-tracking-status-codes.html`, vendored
by karrio at deea10f8), whose codes are the values of Track API v1
`scanEvents[].eventType` and `latestStatusDetail.code`. Every code of that
table is mapped here, plus the codes seen in FedEx replies but missing from
the table (`AE`, and the `derivedStatusCode` values `IN` and `RL`).

The table has three sections. "Movement" and "Regulatory" codes are event
types. "Possession" codes (CA carrier, RC recipient, SH shipper, CU customs,
BR broker, TP transfer partner, SP split) describe who holds the package;
two of them collide with movement codes (CA = Shipment Cancelled, RC = CDO
Cancelled), and as event types the movement meaning wins.

Informational codes (delivery-option requests, return-label e-mails, "arriving
on time") say nothing new about where the package is: an event with such a
code keeps the status of the event before it (see `INFORMATIONAL_CODES`).

Returns: RS "Return to Shipper" means the package is on its way back
(`RETURN_TO_SENDER`, not final); a delivery scan after that is the package
delivered back to the shipper (`RETURNED`, final; see `returned_status` and `app.carriers.returns`).

`SERVICES`: the Ship API `requestedShipment.serviceType` codes we book
(FedEx "Service Types" reference, linked from `serviceType` in
`carrier-samples/fedex/openapi-ship-api.json`; the spec gives the codes as
examples, not an enum). Freight, SmartPost/Ground Economy (needs a hub id)
and Same Day services are left out: their bookings need data we do not take.
"""

from __future__ import annotations

import logging

import math
import re

from app.carriers.shipping import Service
from app.carriers.types import TrackingStatus as S

logger = logging.getLogger(__name__)

EVENT_TYPE_STATUS: dict[str, S] = {
    # --- Movement ---
    "AA": S.IN_TRANSIT,  # At Airport
    "AC": S.IN_TRANSIT,  # At Canada Post facility
    "AD": S.OUT_FOR_DELIVERY,  # At Delivery
    "AF": S.IN_TRANSIT,  # At local FedEx Facility
    "AO": S.IN_TRANSIT,  # Shipment arriving On-time (informational)
    "AP": S.INFO_RECEIVED,  # At Pickup: the courier is at the shipper, not yet picked up
    "AR": S.IN_TRANSIT,  # Arrived at FedEx location: a hub/station arrival scan, not a pickup point
    "AX": S.IN_TRANSIT,  # At USPS facility
    "CA": S.CANCELLED,  # Shipment Cancelled
    "CH": S.IN_TRANSIT,  # Location Changed
    "DD": S.EXCEPTION,  # Delivery Delay
    "DE": S.EXCEPTION,  # Delivery Exception (failed_attempt for "customer not available", see below)
    "DL": S.DELIVERED,  # Delivered
    "DP": S.IN_TRANSIT,  # Departed
    "DR": S.EXCEPTION,  # Vehicle furnished but not used (freight pickup did not happen)
    "DS": S.INFO_RECEIVED,  # Vehicle Dispatched (for pickup)
    "DY": S.EXCEPTION,  # Delay
    "EA": S.IN_TRANSIT,  # Enroute to Airport; also "Export Approved" in the regulatory section
    "ED": S.OUT_FOR_DELIVERY,  # Enroute to Delivery
    "EO": S.IN_TRANSIT,  # Enroute to Origin Airport
    "EP": S.INFO_RECEIVED,  # Enroute to Pickup
    "FD": S.IN_TRANSIT,  # At FedEx Destination
    "HL": S.AVAILABLE_FOR_PICKUP,  # Hold at Location
    "HP": S.AVAILABLE_FOR_PICKUP,  # Ready for Recipient Pickup
    "IT": S.IN_TRANSIT,  # In Transit
    "IX": S.IN_TRANSIT,  # In transit (see Details)
    "LO": S.IN_TRANSIT,  # Left Origin
    "OC": S.INFO_RECEIVED,  # Order Created (label created, shipment information sent to FedEx)
    "OD": S.OUT_FOR_DELIVERY,  # Out for Delivery
    "OF": S.IN_TRANSIT,  # At FedEx origin facility
    "OW": S.IN_TRANSIT,  # On the way (written "Ow" in the table; codes are matched upper-cased)
    "OX": S.IN_TRANSIT,  # Shipment information sent to USPS (USPS does the final delivery)
    "PD": S.EXCEPTION,  # Pickup Delay
    "PF": S.IN_TRANSIT,  # Plane in Flight
    "PL": S.IN_TRANSIT,  # Plane Landed
    "PM": S.IN_TRANSIT,  # In Progress
    "PU": S.IN_TRANSIT,  # Picked Up
    "PX": S.IN_TRANSIT,  # Picked up (see Details)
    "RR": S.IN_TRANSIT,  # CDO requested (custom delivery option; informational)
    "RM": S.IN_TRANSIT,  # CDO Modified (informational)
    "RC": S.IN_TRANSIT,  # CDO Cancelled (informational); "Recipient" as a possession code
    "RS": S.RETURN_TO_SENDER,  # Return to Shipper: on its way back, not final (delivered back: see returned_status)
    "RP": S.INFO_RECEIVED,  # Return label link emailed to return sender (informational)
    "LP": S.INFO_RECEIVED,  # Return label link cancelled by shipment originator (informational)
    "RG": S.INFO_RECEIVED,  # Return label link expiring soon (informational)
    "RD": S.INFO_RECEIVED,  # Return label link expired (informational)
    "SE": S.EXCEPTION,  # Shipment Exception
    "SF": S.IN_TRANSIT,  # At Sort Facility
    "SP": S.IN_TRANSIT,  # Split Status (informational)
    "TR": S.IN_TRANSIT,  # Transfer
    # --- Regulatory ---
    "CC": S.IN_TRANSIT,  # Cleared Customs
    "CD": S.EXCEPTION,  # Clearance Delay
    "CP": S.IN_TRANSIT,  # Clearance in Progress
    # --- Possession (not expected as event types; CA/RC/SP above keep their movement meaning) ---
    "SH": S.INFO_RECEIVED,  # Shipper (still holds the package)
    "CU": S.IN_TRANSIT,  # Customs
    "BR": S.IN_TRANSIT,  # Broker
    "TP": S.IN_TRANSIT,  # Transfer Partner
    # --- Seen in FedEx replies, not in the table ---
    "AE": S.IN_TRANSIT,  # Shipment arriving early (informational)
}

DERIVED_STATUS: dict[str, S] = {
    **EVENT_TYPE_STATUS,
    "IN": S.INFO_RECEIVED,  # derivedStatus "Label created" / initiated
    "RL": S.IN_TRANSIT,  # "Running Late": still moving, delayed
}
"""`scanEvents[].derivedStatusCode` / `latestStatusDetail.derivedCode`: the event codes plus IN and RL."""

INFORMATIONAL_CODES: frozenset[str] = frozenset({"AO", "AE", "RR", "RM", "RC", "RP", "LP", "RG", "RD", "SP"})
"""Event types that do not move the package: such an event keeps the previous event's status."""

CUSTOMER_NOT_AVAILABLE_EXCEPTION_CODES: frozenset[str] = frozenset({"08", "8", "008", "007", "15", "015"})
"""`exceptionCode`s of a DE event that mean an attempted delivery nobody received.

08 "customer not available" (FedEx exception code list, as quoted by the
carrier-samples README), 007 "Customer not available or business closed"
(seen in real Track API replies; the two-digit 07 is "refused by recipient"
and stays an exception) and 15 "Customer not available or business closed"
(`latestStatusDetail.ancillaryDetails[].reason` in FedEx's spec example).
"""


def fedex_status(
    event_type: str | None,
    derived_code: str | None = None,
    exception_code: str | None = None,
) -> tuple[S, bool]:
    """Normalized status of one FedEx event/status, and whether any code was recognised.

    Args:
        event_type: `scanEvents[].eventType` or `latestStatusDetail.code` (fine-grained, preferred).
        derived_code: `derivedStatusCode` / `derivedCode`, used when `event_type` is not in the table.
        exception_code: `exceptionCode`; turns DE into failed_attempt when it means "customer not available".

    Returns `(status, known)`; an unrecognised pair gives `(UNKNOWN, False)`
    and a warning log (the caller keeps the raw event).
    """
    code = (event_type or "").strip().upper()
    if code in EVENT_TYPE_STATUS:
        if code == "DE" and (exception_code or "").strip() in CUSTOMER_NOT_AVAILABLE_EXCEPTION_CODES:
            return S.FAILED_ATTEMPT, True
        return EVENT_TYPE_STATUS[code], True
    derived = (derived_code or "").strip().upper()
    if derived in DERIVED_STATUS:
        if code:
            logger.info("fedex: unmapped eventType %r, using derivedCode %r", event_type, derived_code)
        return DERIVED_STATUS[derived], True
    if code or derived:
        logger.warning("fedex: unmapped tracking code eventType=%r derivedCode=%r -> unknown", event_type, derived_code)
    return S.UNKNOWN, False


def is_informational(event_type: str | None) -> bool:
    """True if this FedEx event type does not change where the package is (see `INFORMATIONAL_CODES`)."""
    return (event_type or "").strip().upper() in INFORMATIONAL_CODES


_RETURNING = re.compile(r"\b(return(?:ing|ed)?|being returned)\b(?: \w+){0,3}? to (?:the )?(?:shipper|sender|origin)\b", re.I)
_DELIVERED_BACK = re.compile(
    r"\b(?:returned|delivered(?: back)?)\b(?: \w+){0,3}? to (?:the )?(?:shipper|sender)\b|\bdelivered back\b", re.I
)


def returned_status(status: S, description: str | None) -> S:
    """`status` corrected for what the event's text says about a package going back to its shipper.

    Args:
        status: the status from the codes (`fedex_status`).
        description: the event's text (eventDescription / derivedStatus / exception text).

    A delivery (DL) whose text says it was delivered/returned to the shipper
    is RETURNED (final). A non-final event whose text says the package is
    being returned ("Returning package to shipper") is RETURN_TO_SENDER.
    Other statuses are returned unchanged. A delivery after an earlier
    RETURN_TO_SENDER event is RETURNED too: that rule reads the whole
    history (`app.carriers.returns`, applied in `tracking`).
    """
    text = description or ""
    if status == S.DELIVERED:
        return S.RETURNED if _DELIVERED_BACK.search(text) else status
    if status in (S.CANCELLED, S.RETURNED, S.RETURN_TO_SENDER):
        return status
    if _RETURNING.search(text):
        return S.RETURN_TO_SENDER
    return status


# --------------------------------------------------------------------------- services

SERVICES: tuple[Service, ...] = (
    Service("FEDEX_GROUND", "FedEx Ground", domestic=True, international=True,
            notes="Business addresses in the US; US<->Canada as FedEx International Ground."),
    Service("GROUND_HOME_DELIVERY", "FedEx Home Delivery", domestic=True, international=False,
            notes="Residential addresses in the US; the recipient is sent as residential."),
    Service("FEDEX_EXPRESS_SAVER", "FedEx Express Saver", domestic=True, international=False, notes="US, 3 business days."),
    Service("FEDEX_2_DAY", "FedEx 2Day", domestic=True, international=False, notes="US."),
    Service("FEDEX_2_DAY_AM", "FedEx 2Day A.M.", domestic=True, international=False, notes="US."),
    Service("STANDARD_OVERNIGHT", "FedEx Standard Overnight", domestic=True, international=False, notes="US, next business day afternoon."),
    Service("PRIORITY_OVERNIGHT", "FedEx Priority Overnight", domestic=True, international=False, notes="US, next business day morning."),
    Service("FIRST_OVERNIGHT", "FedEx First Overnight", domestic=True, international=False, notes="US, next business day early morning."),
    Service("FEDEX_INTERNATIONAL_PRIORITY_EXPRESS", "FedEx International Priority Express", domestic=False, international=True),
    Service("FEDEX_INTERNATIONAL_PRIORITY", "FedEx International Priority", domestic=False, international=True),
    Service("INTERNATIONAL_ECONOMY", "FedEx International Economy", domestic=False, international=True),
    Service("INTERNATIONAL_FIRST", "FedEx International First", domestic=False, international=True),
    Service("FEDEX_INTERNATIONAL_CONNECT_PLUS", "FedEx International Connect Plus", domestic=False, international=True,
            notes="E-commerce service from selected origins."),
)
"""What `create_shipment` books; `domestic`/`international` say on which lanes (same country / different countries)."""

SERVICES_BY_CODE: dict[str, Service] = {service.code: service for service in SERVICES}


# --------------------------------------------------------------------------- measures and money

POUND_COUNTRIES: frozenset[str] = frozenset({"US", "PR"})
"""Shipper countries whose packages are declared in LB/IN; every other origin in KG/CM (Ship API `Weight.units`
KG|LB, `Dimensions.units` CM|IN, as FedEx's own tools default per origin)."""
GRAMS_PER_POUND = 453.59237
MM_PER_INCH = 25.4
MAX_DIMENSION = 999
"""`Dimensions.length/width/height`: integers, "Maximum value: 999" (in the declared unit)."""


def weight_units(shipper_country: str) -> tuple[str, str]:
    """`(weight unit, dimension unit)` for a shipment from `shipper_country`: ("LB", "IN") or ("KG", "CM")."""
    return ("LB", "IN") if shipper_country in POUND_COUNTRIES else ("KG", "CM")


def _ceil(value: float, places: int) -> float:
    factor = 10**places
    # round() first so that float noise (1.0000000001) does not bump the value up a step
    return math.ceil(round(value * factor, 6)) / factor


def fedex_weight(grams: int, unit: str, *, places: int = 2) -> float:
    """`grams` in FedEx's `unit` ("KG" or "LB"), rounded UP to `places` decimals (never under-declared, never 0)."""
    value = grams / 1000 if unit == "KG" else grams / GRAMS_PER_POUND
    return max(_ceil(value, places), 10**-places)


def fedex_dimension(mm: int, unit: str) -> int:
    """`mm` in FedEx's `unit` ("CM" or "IN") as the whole number FedEx takes, rounded up (at least 1)."""
    value = mm / 10 if unit == "CM" else mm / MM_PER_INCH
    return max(math.ceil(round(value, 6)), 1)


FEDEX_CURRENCIES = {
    "ARN": "ARS", "CHP": "CLP", "CID": "KYD", "DHS": "AED", "ECD": "XCD", "JAD": "JMD", "JYE": "JPY", "KUD": "KWD",
    "NMP": "MXN", "NTD": "TWD", "RDD": "DOP", "RPA": "IDR", "SFR": "CHF", "SID": "SGD", "UKL": "GBP", "UYP": "UYU",
    "WON": "KRW",
}  # fmt: skip
"""FedEx's own currency codes (FedEx reference guide "Currency Codes", linked from every `currency` member of the
Rate and Ship APIs) that differ from ISO 4217, and their ISO code; every other FedEx code is the ISO one."""


def iso_currency(code: str) -> str:
    """The ISO 4217 code of a FedEx currency code ("JYE" -> "JPY", "UKL" -> "GBP", "USD" -> "USD"), upper-cased."""
    upper = code.strip().upper()
    return FEDEX_CURRENCIES.get(upper, upper)
