"""Carrier timestamps without a UTC offset → timezone-aware UTC.

Several carrier APIs send event times as local wall-clock time at the event
location with no offset (DHL Shipment Tracking – Unified for eCommerce,
Express and Parcel DE; UPS Track `date`/`time`; PostNord `eventTime`).
Reading those as UTC would shift every event by the local offset, so the
time zone is inferred from the event's country (and, for the United States,
the state in the locality text: "Henderson, NV, US"). Where no zone can be
inferred (multi-zone country without a state, no country at all, no tz
database), UTC is assumed and a debug message is logged.

Zones come from the IANA tz database through `zoneinfo`.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.carriers.fields import text_of

logger = logging.getLogger(__name__)

# ISO 3166-1 alpha-2 -> the zone of (almost) the whole country. Countries with
# several mainland zones (US, CA, MX, BR, RU, AU, ...) are absent on purpose.
COUNTRY_ZONES: dict[str, str] = {
    "AD": "Europe/Andorra", "AE": "Asia/Dubai", "AL": "Europe/Tirane", "AT": "Europe/Vienna",
    "BA": "Europe/Sarajevo", "BE": "Europe/Brussels", "BG": "Europe/Sofia", "BY": "Europe/Minsk",
    "CH": "Europe/Zurich", "CN": "Asia/Shanghai", "CO": "America/Bogota", "CY": "Asia/Nicosia",
    "CZ": "Europe/Prague", "DE": "Europe/Berlin", "DK": "Europe/Copenhagen", "EE": "Europe/Tallinn",
    "EG": "Africa/Cairo", "ES": "Europe/Madrid", "FI": "Europe/Helsinki", "FR": "Europe/Paris",
    "GB": "Europe/London", "GR": "Europe/Athens", "HK": "Asia/Hong_Kong", "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest", "IE": "Europe/Dublin", "IL": "Asia/Jerusalem", "IN": "Asia/Kolkata",
    "IS": "Atlantic/Reykjavik", "IT": "Europe/Rome", "JP": "Asia/Tokyo", "KR": "Asia/Seoul",
    "LI": "Europe/Vaduz", "LT": "Europe/Vilnius", "LU": "Europe/Luxembourg", "LV": "Europe/Riga",
    "MC": "Europe/Monaco", "MD": "Europe/Chisinau", "ME": "Europe/Podgorica", "MK": "Europe/Skopje",
    "MT": "Europe/Malta", "MY": "Asia/Kuala_Lumpur", "NL": "Europe/Amsterdam", "NO": "Europe/Oslo",
    "NZ": "Pacific/Auckland", "PE": "America/Lima", "PH": "Asia/Manila", "PK": "Asia/Karachi",
    "PL": "Europe/Warsaw", "PT": "Europe/Lisbon", "QA": "Asia/Qatar", "RO": "Europe/Bucharest",
    "RS": "Europe/Belgrade", "SA": "Asia/Riyadh", "SE": "Europe/Stockholm", "SG": "Asia/Singapore",
    "SI": "Europe/Ljubljana", "SK": "Europe/Bratislava", "SM": "Europe/San_Marino", "TH": "Asia/Bangkok",
    "TR": "Europe/Istanbul", "TW": "Asia/Taipei", "UA": "Europe/Kyiv", "VN": "Asia/Ho_Chi_Minh",
    "ZA": "Africa/Johannesburg",
}  # fmt: skip

# US state/territory -> its main zone (states split between zones use the zone
# of most of their population).
_US_STATE_ZONES: dict[str, str] = {
    state: zone
    for zone, states in {
        "America/New_York": "CT DC DE FL GA IN KY MA MD ME MI NC NH NJ NY OH PA RI SC VA VT WV",
        "America/Chicago": "AL AR IA IL KS LA MN MO MS ND NE OK SD TN TX WI",
        "America/Denver": "CO ID MT NM UT WY",
        "America/Phoenix": "AZ",
        "America/Los_Angeles": "CA NV OR WA",
        "America/Anchorage": "AK",
        "Pacific/Honolulu": "HI",
        "America/Puerto_Rico": "PR VI",
        "Pacific/Guam": "GU MP",
    }.items()
    for state in states.split()
}

_US_STATE_IN_LOCALITY = re.compile(r",\s*([A-Z]{2})\s*(?:,\s*(?:US|USA)\s*)?$", re.IGNORECASE)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("time zone %s not in the tz database (install tzdata); assuming UTC", name)
        return None


def zone_for(country: str | None, locality: str | None = None) -> ZoneInfo | None:
    """The IANA zone for an event place, or None when it cannot be inferred.

    `country` is ISO 3166-1 alpha-2; for "US", `locality` must end in a state
    code ("Henderson, NV" or "Henderson, NV, US").
    """
    if not country:
        return None
    country = country.strip().upper()
    if country == "US":
        match = _US_STATE_IN_LOCALITY.search(locality or "")
        state = match.group(1).upper() if match else None
        name = _US_STATE_ZONES.get(state or "")
    else:
        name = COUNTRY_ZONES.get(country)
    return _zone(name) if name else None


def parse_iso(value: str) -> datetime:
    """An ISO 8601 date-time or date as a datetime, naive if the text has no offset; ValueError otherwise."""
    text = value.strip()
    if not text:
        raise ValueError("empty timestamp")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.combine(date.fromisoformat(text), time())


def parse_carrier_datetime(value: str, *, zone: tzinfo | None = None) -> datetime:
    """An ISO 8601 carrier timestamp as an aware UTC datetime.

    Accepts "2018-03-02T07:53:47Z", "...+01:00", fractional seconds, a naive
    "2023-05-08T10:37:00" (read in `zone`, else UTC) and a bare date
    "2018-08-03" (midnight in `zone`, else UTC). Raises ValueError otherwise.
    """
    parsed = parse_iso(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        if zone is None:
            logger.debug("timestamp %r has no offset and no known zone; assuming UTC", value)
        # zoneinfo resolves DST gaps/folds with fold=0 (the earlier offset)
        parsed = parsed.replace(tzinfo=zone or timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_optional_datetime(value: Any, *, zone: tzinfo | None = None) -> datetime | None:
    """`parse_carrier_datetime` for a field that may be absent: None when `value` is None, blank or unreadable."""
    text = text_of(value)
    if text is None:
        return None
    try:
        return parse_carrier_datetime(text, zone=zone)
    except ValueError:
        return None
