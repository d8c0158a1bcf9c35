"""UPS tracking codes -> normalized `TrackingStatus`.

Sources (copies in `carrier-samples/ups/`):

* `reference-ups-status-description-codes.html` — UPS developer portal
  appendix "Status/Description Codes" (0..169): the values of Track API
  `activity[].status.statusCode` (zero-padded, "011") and of Track Alert
  `activityStatus.descriptionCode`. Every code of the table is mapped.
* `reference-ups-activity-types.html` — "Package Activity Types" (D, I, M,
  MV, X, DO, DD, W, NA, U): the values of `status.type`; plus P (pickup) and
  RS (returned to shipper), which UPS replies use but the table omits.

The 2-character `status.code` (Track API `activity[].status.code`, Track
Alert `activityStatus.code`: MP, OR, AR, DP, OT, FS, ...) has no table in the
samples; `SHORT_CODE_STATUS` maps the codes UPS replies and UPS's own
examples use (see its docstring). It decides only when the 3-digit
description code is absent or unknown, before the activity type.

Returns: a package on its way back ("Return to Sender Requested",
"Returning to Sender", type RS "Returned to Shipper" movements) is
`return_to_sender` (not final); `returned` (final) is kept for "Returned to
Sender" (34, 67) and "Returned - Damage Reported" (81), i.e. back at the
shipper. Codes 0/148/163 ("Status Not Available", "Package Information
Unavailable") and 88 ("Test") are mapped to `unknown` on purpose.

This module also holds the Shipping API tables (`SERVICES`, units, the
customs vocabularies) and the time-zone tables for activity locations.
"""

from __future__ import annotations

import logging

from app.carriers.shipping import Service
from app.carriers.types import TrackingStatus as S

logger = logging.getLogger(__name__)

_I, _T, _O, _P = S.INFO_RECEIVED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.AVAILABLE_FOR_PICKUP
_D, _F, _X, _R, _C, _U = S.DELIVERED, S.FAILED_ATTEMPT, S.EXCEPTION, S.RETURNED, S.CANCELLED, S.UNKNOWN
_RTS = S.RETURN_TO_SENDER

DESCRIPTION_CODE_STATUS: dict[int, S] = {
    0: _U,  # Status Not Available
    3: _I,  # Shipment Ready for UPS
    5: _T,  # On the Way
    6: _O,  # Out for Delivery
    7: _C,  # Shipment Information Voided
    10: _T,  # On the Way
    11: _D,  # Delivered
    12: _T,  # Clearance in Progress
    13: _X,  # Exception
    14: _T,  # Clearance Completed
    16: _T,  # In Warehouse
    17: _P,  # Held for Customer Pickup
    18: _T,  # Delivery Change Requested: Hold for Pickup (not yet at the pickup place)
    19: _T,  # Held for Future Delivery
    20: _T,  # Held for Future Delivery Requested
    21: _O,  # Out for Delivery
    22: _F,  # First Attempt Made
    23: _F,  # Second Delivery Attempted
    24: _F,  # Final Attempt Made
    25: _T,  # On the Way
    26: _D,  # Delivered by Local Post Office
    27: _T,  # Delivery Address Change Requested
    28: _T,  # Delivery Address Changed
    29: _X,  # Exception: Action Required
    30: _X,  # Local Post Office Exception
    32: _X,  # Adverse Weather May Cause Delay
    33: _RTS,  # Return to Sender Requested
    34: _R,  # Returned to Sender
    35: _RTS,  # Returning to Sender
    36: _RTS,  # Returning to Sender: In Transit
    37: _O,  # Out for Delivery
    38: _T,  # Picked Up by UPS
    39: _T,  # On the Way
    40: _P,  # Ready for Customer Pickup
    41: _T,  # Service Upgrade Requested
    42: _T,  # Service Upgraded
    43: _X,  # Voided Pickup (the pickup did not happen)
    44: _T,  # On the Way to UPS
    45: _T,  # On the Way to UPS
    46: _X,  # Delay
    47: _T,  # On the Way
    48: _X,  # Delay
    49: _X,  # Delay: Action Required
    50: _X,  # Address Information Required
    51: _X,  # Delay: Emergency Situation or Severe Weather
    52: _X,  # Delay: Severe Weather
    53: _X,  # Delay: Severe Weather
    54: _T,  # Delivery Change Requested
    55: _T,  # Rescheduled Delivery
    56: _T,  # Service Upgrade Requested
    57: _T,  # On the Way to a Local UPS Access Point
    58: _X,  # Clearance Information Required
    59: _X,  # Damage Reported
    60: _F,  # Delivery Attempted
    61: _F,  # Delivery Attempted: Adult Signature Required
    62: _F,  # Delivery Attempted: Funds Required
    63: _T,  # Delivery Change Completed
    64: _X,  # Delivery Refused
    65: _X,  # Pickup Attempted
    66: _F,  # Post Office Delivery Attempted
    67: _R,  # Returned to Sender by Post Office
    68: _X,  # Sent to Lost and Found
    69: _X,  # Unable to Deliver
    70: _T,  # Package not at UPS Access Point yet
    71: _T,  # Preparing for Delivery
    72: _O,  # Loaded on Delivery Vehicle
    73: _T,  # In Transit to UPS Delivery Partner
    74: _T,  # UPS Delivery Partner has Shipment
    75: _T,  # Scheduled for Delivery
    76: _X,  # UPS Delivery Partner Exception
    77: _I,  # Scheduled for Pickup Today
    78: _O,  # Your Driver is Arriving Soon!
    79: _T,  # Order Processed: In Transit to UPS
    80: _I,  # Order Processed: Ready for UPS
    81: _R,  # Returned - Damage Reported
    82: _T,  # Delivery Instructions Received (informational)
    83: _X,  # Held
    84: _T,  # Cleared
    85: _X,  # Held for COD Payment
    86: _X,  # Delay
    87: _T,  # On the Way
    88: _U,  # Test
    89: _O,  # Out for Delivery
    90: _X,  # Delay
    91: _O,  # Out for Delivery
    92: _T,  # Customs Clearance in Progress
    93: _X,  # Premier Recovery In Progress
    94: _T,  # Premier Recovery Completed
    95: _T,  # Additional Attempt Requested
    96: _T,  # Address Change Confirmed
    97: _T,  # Address Change Requested
    98: _T,  # Deliver to Original Address Requested
    99: _T,  # Deliver to Original Address Confirmed
    100: _T,  # Hold at UPS Access Point Confirmed (on its way there)
    101: _T,  # Hold at UPS Access Point Requested
    102: _T,  # Hold for Courier Requested
    103: _T,  # Hold for Courier Confirmed
    104: _T,  # Hold for Instructions Confirmed
    105: _T,  # Hold for Instructions Requested
    106: _T,  # Hold for Pickup Confirmed
    107: _T,  # Hold for Pickup Requested
    108: _T,  # Hold for Pickup Today Confirmed
    109: _T,  # Hold for Pickup Today Requested
    110: _T,  # Refrigeration Confirmed
    111: _T,  # Refrigeration Requested
    112: _T,  # Re-Ice Confirmed
    113: _T,  # Re-Ice Requested
    114: _T,  # Request Canceled
    115: _T,  # Reschedule Delivery Confirmed
    116: _T,  # Reschedule Delivery Requested
    117: _RTS,  # Return by Saturday Confirmed
    118: _RTS,  # Return to Sender Confirmed
    119: _RTS,  # Return to Sender Requested
    120: _T,  # Saturday Delivery Confirmed
    121: _T,  # Saturday Delivery Requested
    122: _T,  # Upgrade Confirmed
    123: _T,  # Pending Release From Non-UPS Broker
    124: _X,  # Clearance Information Needed
    125: _X,  # Clearance Information Needed
    126: _T,  # Pending Government Agency Release
    127: _X,  # Investigation Closed
    128: _X,  # Investigation Canceled
    129: _X,  # Investigation Opened
    130: _X,  # Claim in Progress
    131: _X,  # Final Pickup Attempted
    132: _X,  # Airport Security Delay
    133: _I,  # Return Label Left With Customer (a return not yet handed over)
    134: _T,  # Cleared Import Customs
    135: _X,  # Second Pickup Attempted
    136: _T,  # Delivery Rescheduled for Saturday
    137: _T,  # Transferred to UPS Delivery Partner
    138: _T,  # Awaiting Scheduled Departure
    139: _X,  # Security Access Required
    140: _X,  # Claim Paid - Claim Payment Has Been Processed.
    141: _X,  # Incomplete Documentation Received
    142: _X,  # Claim Voided
    143: _D,  # Delivered to Agent
    144: _P,  # Delivered to Post Office for Pickup
    145: _F,  # Delivery Attempted
    146: _O,  # Out for Delivery
    147: _X,  # Seized by Law Enforcement, No Longer in UPS possession
    148: _U,  # Package Information Unavailable
    149: _X,  # Prohibited Contents, Package Destroyed No Longer in UPS possession
    153: _T,  # Updated Delivery Time (informational)
    154: _T,  # Updated Delivery Date (informational)
    155: _D,  # Delivery Photo (informational)
    156: _T,  # Commercial Inside Release (informational)
    157: _I,  # Shipment Ready for UPS
    158: _T,  # On the Way
    159: _T,  # On the Way
    160: _T,  # We Have Your Package
    161: _P,  # Delivered to UPS Access Point (awaiting customer pickup)
    162: _O,  # Out for Delivery
    163: _U,  # Package Information Unavailable
    164: _T,  # On the Way
    165: _T,  # On the Way
    166: _I,  # Shipment Ready for Roadie
    167: _T,  # Dropped off at UPS Store by Customer
    168: _T,  # Dropped off at Retail Location by Customer
    169: _T,  # Dropped off at a UPS Access Point by Customer
}
"""UPS status/description code (as an int: "011" -> 11) -> normalized status."""

ACTIVITY_TYPE_STATUS: dict[str, S] = {
    "D": _D,  # Delivered
    "I": _T,  # In Transit, Out for Delivery (the description code tells them apart)
    "M": _I,  # Billing Information Received
    "MV": _C,  # Billing Information Voided
    "X": _X,  # Exception
    "P": _T,  # Pickup (in replies, not in the table)
    "RS": _RTS,  # Returned to Shipper (in replies, not in the table): on its way back; 034 says it arrived
    "DO": _T,  # Delivered Origin CFS (Freight Only): handed to the origin freight station
    "DD": _T,  # Delivered Destination CFS (Freight Only): at the destination freight station
    "W": _T,  # Warehousing (Freight Only)
    "NA": _U,  # Not Available
    "U": _T,  # Updates (Track Alert API Only; informational)
}
"""UPS `status.type` -> normalized status (used when the description code is absent or unknown)."""

INFORMATIONAL_DESCRIPTION_CODES: frozenset[int] = frozenset({82, 153, 154, 155, 156})
INFORMATIONAL_TYPES: frozenset[str] = frozenset({"U"})
"""Events that do not move the package: they keep the previous event's status."""


def description_code(value: object) -> int | None:
    """A UPS description code as int ("011", "11", 11 -> 11); None if absent or not numeric."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return int(text) if text.isdigit() else None


SHORT_CODE_STATUS: dict[str, S] = {
    "MP": _I,  # Order Processed: Ready for UPS / "Shipper created a label" (manifest pickup; delivered sample)
    "OR": _T,  # Origin Scan
    "PU": _T,  # Pickup Scan
    "AR": _T,  # Arrival Scan
    "AF": _T,  # Arrived at Facility
    "DP": _T,  # Departure Scan
    "YP": _T,  # Processing at UPS Facility
    "EP": _T,  # Export Scan
    "IP": _T,  # Import Scan
    "DS": _T,  # Destination Scan
    "SR": _T,  # Released by the customs agency (spec example)
    "OT": _O,  # Out For Delivery Today (Track Alert example 1)
    "OF": _O,  # Out For Delivery
    "FS": _D,  # Delivered (Track Alert example 2)
    "F4": _D,  # Delivered (delivered sample)
    "KB": _D,  # Delivered
    "KM": _D,  # Delivered (left at the front door / mailbox)
    "RS": _RTS,  # Returning to sender
}
"""UPS 2-character `status.code` -> normalized status, for activities without a (known) 3-digit `statusCode`.

UPS publishes no table of these codes in the documents we follow; the
entries are the codes of the samples (MP, F4, SR), of the Track Alert
examples in `openapi-track-alert.yaml` (OT, FS) and the scan codes every UPS
reply uses. An unlisted code falls back to the activity type.
"""


def ups_status(status_type: str | None, status_code: object = None, short_code: object = None) -> tuple[S, bool]:
    """Normalized status of one UPS activity, and whether any code was recognised.

    Args:
        status_type: `status.type` (D, I, M, MV, X, P, RS, DO, DD, W, NA, U).
        status_code: `status.statusCode` / Track Alert `descriptionCode` ("011"; an int is accepted).
        short_code: `status.code` / Track Alert `activityStatus.code` (2 characters: "OT", "MP").

    Precedence: the description code when the table knows it (it separates
    out for delivery, access point, attempts and returns inside type I/D/X),
    then the 2-character code (`SHORT_CODE_STATUS`), then the type; a "not
    available" description code (0/148/163) only when nothing else is known.
    Nothing known -> `(UNKNOWN, False)` and a warning log.
    """
    code = description_code(status_code)
    kind = (status_type or "").strip().upper()
    short = str(short_code).strip().upper() if short_code not in (None, "") else ""
    by_code = DESCRIPTION_CODE_STATUS.get(code) if code is not None else None
    by_short = SHORT_CODE_STATUS.get(short)
    by_type = ACTIVITY_TYPE_STATUS.get(kind)
    for candidate in (by_code, by_short, by_type):
        if candidate is not None and candidate != S.UNKNOWN:
            return candidate, True
    if by_code is not None or by_type is not None:
        return S.UNKNOWN, True
    if kind or short or status_code not in (None, ""):
        logger.warning(
            "ups: unmapped tracking status type=%r statusCode=%r code=%r -> unknown", status_type, status_code, short_code
        )
    return S.UNKNOWN, False


def is_informational(status_type: str | None, status_code: object = None) -> bool:
    """True if this UPS activity does not change where the package is (delivery-date updates, photos, type U)."""
    code = description_code(status_code)
    if code is not None and code in INFORMATIONAL_DESCRIPTION_CODES:
        return True
    known_code = code is not None and code in DESCRIPTION_CODE_STATUS
    return not known_code and (status_type or "").strip().upper() in INFORMATIONAL_TYPES


# --------------------------------------------------------------------------- Shipping API tables

SERVICES: tuple[Service, ...] = (
    Service("01", "UPS Next Day Air", international=False, notes="US/PR domestic (Canada: UPS Express)."),
    Service("02", "UPS 2nd Day Air", international=False, notes="US/PR domestic (Canada: UPS Expedited)."),
    Service("03", "UPS Ground", notes="US/PR domestic, US<->CA."),
    Service("07", "UPS Worldwide Express", notes="International; domestic 'UPS Express' in Europe."),
    Service("08", "UPS Worldwide Expedited", domestic=False),
    Service("11", "UPS Standard", notes="Domestic and cross-border road service (Europe, CA<->US)."),
    Service("12", "UPS 3 Day Select", international=False, notes="US domestic, CA->US."),
    Service("13", "UPS Next Day Air Saver", international=False, notes="US/PR domestic (Canada: UPS Express Saver)."),
    Service("14", "UPS Next Day Air Early", international=False, notes="US/PR domestic; needs the recipient's phone."),
    Service("54", "UPS Worldwide Express Plus"),
    Service("59", "UPS 2nd Day Air A.M.", international=False, notes="US domestic."),
    Service("65", "UPS Saver", notes="UPS Worldwide Saver / Express Saver."),
    Service("74", "UPS Express 12:00", international=False, notes="Germany domestic."),
)
"""The Shipping API `Service.Code` values we book (`openapi-shipping.yaml`, `Shipment_Service.Code`).

Left out on purpose: freight (71, 96, T0, T1), Mail Innovations (M2..M7),
Worldwide Economy (17, 72: ounce weights and contracts), UPS Today (82..86),
Roadie (C6..C8) and UPS Access Point Economy (70, needs an access point
address, see `app.carriers.ups.shipping`)."""

SERVICE_NAMES: dict[str, str] = {service.code: service.name for service in SERVICES}

NEXT_DAY_AIR_EARLY = "14"
"""The service for which UPS requires the recipient's phone and attention name on every lane."""
UPS_STANDARD = "11"

IMPERIAL_ORIGINS = frozenset({"US", "PR"})
"""Shipper countries whose UPS accounts rate in pounds and inches (LBS/IN); all others use KGS/CM."""

LABEL_STOCK = {"Height": "6", "Width": "4"}
"""`LabelSpecification.LabelStockSize`: the 4x6 inch thermal label (required by the v2409 schema)."""
GIF_LABEL_ROTATION = 270
"""UPS GIF labels are landscape (1400x800 px) with the label's top on the left: turning the image
270 degrees counter-clockwise (90 clockwise) makes the 4x6 label upright."""

REASON_FOR_EXPORT: dict[str, str] = {
    "merchandise": "SALE",
    "gift": "GIFT",
    "sample": "SAMPLE",
    "return": "RETURN",
    "documents": "DOCUMENTS",
    "other": "OTHER",
}
"""`InternationalForms.ReasonForExport` per `Customs.contents_type` (UPS: SALE, GIFT, SAMPLE, RETURN,
REPAIR, INTERCOMPANYDATA or any other reason as free text, at most 20 characters)."""

TERMS_OF_SHIPMENT: dict[str, str] = {
    "DAP": "DAP",
    "DDP": "DDP",
    "DDU": "DAP",  # DDU left Incoterms in 2010; DAP is its successor and what UPS lists
    "EXW": "EXW",
    "FCA": "FCA",
    "CPT": "CPT",
    "CIP": "CIP",
}
"""`InternationalForms.TermsOfShipment` per `Customs.incoterm`; DPU is not in UPS's list and is not sent."""

PRODUCT_UNIT = "PCS"
"""`Product.Unit.UnitOfMeasurement.Code` of customs lines: pieces."""

# --------------------------------------------------------------------------- time zones of activity places

_CA_PROVINCE_ZONES: dict[str, str] = {
    "BC": "America/Vancouver", "AB": "America/Edmonton", "NT": "America/Edmonton", "SK": "America/Regina",
    "MB": "America/Winnipeg", "ON": "America/Toronto", "QC": "America/Toronto", "NB": "America/Halifax",
    "NS": "America/Halifax", "PE": "America/Halifax", "NL": "America/St_Johns", "YT": "America/Whitehorse",
    "NU": "America/Iqaluit",
}  # fmt: skip
_AU_STATE_ZONES: dict[str, str] = {
    "NSW": "Australia/Sydney", "ACT": "Australia/Sydney", "VIC": "Australia/Melbourne",
    "QLD": "Australia/Brisbane", "SA": "Australia/Adelaide", "WA": "Australia/Perth",
    "TAS": "Australia/Hobart", "NT": "Australia/Darwin",
}  # fmt: skip
STATE_ZONES: dict[str, dict[str, str]] = {"CA": _CA_PROVINCE_ZONES, "AU": _AU_STATE_ZONES}
"""Country -> `stateProvince` -> IANA zone, for multi-zone countries besides the US (which
`app.carriers.timezones.zone_for` knows); the zone of most of each province's people."""
