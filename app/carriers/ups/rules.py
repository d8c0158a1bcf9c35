"""What the UPS Shipping API accepts: field formats, units and limits, and `validate_request` (pure functions).

Document: `carrier-samples/ups/openapi-shipping.yaml` (UPS Shipping API
v2409), the schema descriptions of `Shipment_Shipper`, `Shipper_Phone`,
`Shipper_Address`, `Shipment_ShipTo`, `ShipTo_Phone`, `ShipTo_Address`,
`Shipment_AlternateDeliveryAddress`, `Package_PackageWeight`,
`Package_Dimensions`, `ShipmentRequest_Shipment.ShipmentDate`; the rules are
listed in `app.carriers.ups.shipping`. Customs rules: `app.carriers.ups.customs`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal

from app.carriers.errors import ShipmentRequestInvalid
from app.carriers.shipping import Address, FieldError, Parcel, ShipmentRequest
from app.carriers.ups import customs as ups_customs
from app.carriers.ups.schemas import UpsCredentials
from app.carriers.ups.units import IMPERIAL_ORIGINS, NEXT_DAY_AIR_EARLY, SERVICE_NAMES

CARRIER = "ups"
MAX_SHIP_DAYS_AHEAD = 7
GRAMS_PER_POUND = Decimal("453.59237")
MM_PER_INCH = Decimal("25.4")
ACCESS_POINT_ID = re.compile(r"[A-Za-z0-9]{1,9}")
"""`AlternateDeliveryAddress.UPSAccessPointID`: at most 9 characters (e.g. "U12345678", "GB00088")."""


def digits(phone: str | None) -> str:
    """The digits of a phone number ("+1 (404) 555-0100" -> "14045550100"); "" for None."""
    return re.sub(r"\D", "", phone or "")


def postal(code: str | None, country: str) -> str | None:
    """A postal code as UPS wants it: US/PR digits only ("12345-6789" -> "123456789"), CA without space."""
    if not code:
        return None
    if country in {"US", "PR"}:
        return code.replace("-", "").replace(" ", "")
    if country == "CA":
        return code.replace(" ", "").upper()
    return code.strip()


def _decimal_text(value: Decimal) -> str:
    """`value` rounded up to one decimal, without a trailing ".0" ("5", "0.5")."""
    tenths = math.ceil(value * 10)
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}"


def imperial(request: ShipmentRequest) -> bool:
    """Whether the shipper's country rates in LBS/IN (US, PR) rather than KGS/CM."""
    return request.shipper.country in IMPERIAL_ORIGINS


def package_weight(parcel: Parcel, *, pounds: bool) -> str:
    """`PackageWeight.Weight`: grams as KGS or LBS, rounded up to 0.1 (UPS bills by the started unit)."""
    grams = Decimal(parcel.weight_grams)
    return _decimal_text(grams / GRAMS_PER_POUND if pounds else grams / 1000)


def package_dimensions(parcel: Parcel, *, inches: bool) -> tuple[int, int, int] | None:
    """(Length, Width, Height) in whole IN or CM, rounded up, longest first; None without all three sides."""
    sides = (parcel.length_mm, parcel.width_mm, parcel.height_mm)
    if any(side is None for side in sides):
        return None
    unit = MM_PER_INCH if inches else Decimal(10)
    whole = sorted((max(1, math.ceil(Decimal(side) / unit)) for side in sides if side is not None), reverse=True)
    return whole[0], whole[1], whole[2]


# --------------------------------------------------------------------------- validation


_STATE_REQUIRED_AT_DESTINATION = frozenset({"US", "CA", "VN"})


def _check_party(
    address: Address, prefix: str, *, phone_required: bool, state_countries: frozenset[str], postal_formats: bool
) -> list[FieldError]:
    errors: list[FieldError] = []

    def longer(value: str | None, limit: int, field: str) -> None:
        if value is not None and len(value) > limit:
            errors.append(FieldError(f"UPS accepts at most {limit} characters", f"{prefix}.{field}"))

    longer(address.name, 35, "name")
    longer(address.company, 35, "company")
    for index, line in enumerate(address.address_lines):
        longer(line, 35, f"address_lines.{index}")
    longer(address.city, 30, "city")
    longer(address.state, 5, "state")
    longer(address.email, 50, "email")
    if address.state is None and address.country in state_countries:
        errors.append(FieldError(f"UPS needs the state/province code for {address.country}", f"{prefix}.state"))
    code = postal(address.postal_code, address.country)
    if postal_formats and address.country in {"US", "PR"}:
        if code is None or not re.fullmatch(r"\d{5}|\d{9}", code):
            errors.append(FieldError("UPS needs a 5- or 9-digit ZIP code", f"{prefix}.postal_code"))
    elif postal_formats and address.country == "CA":
        if code is None or not re.fullmatch(r"[A-Z]\d[A-Z]\d[A-Z]\d", code):
            errors.append(FieldError("UPS needs a Canadian postal code like A1A1A1", f"{prefix}.postal_code"))
    elif code is not None and len(code) > 9:
        errors.append(FieldError("UPS accepts at most 9 characters", f"{prefix}.postal_code"))
    number = digits(address.phone)
    if address.phone is not None and not 1 <= len(number) <= 15:
        errors.append(FieldError("UPS needs 1 to 15 digits", f"{prefix}.phone"))
    elif address.phone is None and phone_required:
        errors.append(FieldError("UPS needs a phone number for this shipment", f"{prefix}.phone"))
    return errors


def _check_parcels(request: ShipmentRequest) -> list[FieldError]:
    errors: list[FieldError] = []
    inches = imperial(request)
    unit, max_length, max_girth = ("IN", 108, 165) if inches else ("CM", 270, 330)
    for index, parcel in enumerate(request.parcels):
        path = f"parcels.{index}"
        if len(package_weight(parcel, pounds=inches)) > 5:
            errors.append(FieldError("too heavy for a UPS package", f"{path}.weight_grams"))
        sides = [parcel.length_mm, parcel.width_mm, parcel.height_mm]
        if any(side is not None for side in sides) and any(side is None for side in sides):
            errors.append(FieldError("UPS needs length, width and height together, or none", path))
            continue
        dims = package_dimensions(parcel, inches=inches)
        if dims is None:
            continue
        length, width, height = dims
        if length > max_length:
            errors.append(FieldError(f"UPS takes a longest side of at most {max_length} {unit}", path))
        if length + 2 * (width + height) > max_girth:
            errors.append(FieldError(f"UPS takes length + girth of at most {max_girth} {unit}", path))
    return errors


def validate_request(
    request: ShipmentRequest,
    credentials: UpsCredentials,
    *,
    today: dt.date | None = None,
) -> None:
    """Check `request` against the Shipping API's rules (module docstring); raise for every failing field at once.

    Offline: a `service_point_id` is checked for its form only
    (`AlternateDeliveryAddress.UPSAccessPointID`: at most 9 letters/digits);
    whether UPS knows it is the Locator look-up the adapter makes before
    booking. `today` defaults to the UTC date. Raises ShipmentRequestInvalid
    (field paths into `POST /v1/labels`; a missing account number has field
    None). Returns None when UPS can take it.
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    errors: list[FieldError] = []
    account = credentials.account_number
    if not account:
        errors.append(
            FieldError(
                "this UPS integration has no account_number: UPS books on the shipper's account "
                "(Shipper.ShipperNumber); add the 6-character UPS account number to the integration's credentials"
            )
        )
    elif not re.fullmatch(r"[A-Za-z0-9]{6}", account):
        errors.append(FieldError("the integration's UPS account_number must be 6 letters or digits"))
    if request.service not in SERVICE_NAMES:
        errors.append(FieldError(f"not a UPS service we book; use one of {', '.join(SERVICE_NAMES)}", "service"))
    international = request.shipper.country != request.recipient.country
    errors += _check_party(
        request.shipper, "shipper", phone_required=international, state_countries=frozenset({"VN"}), postal_formats=False
    )
    errors += _check_party(
        request.recipient,
        "recipient",
        phone_required=international or request.service == NEXT_DAY_AIR_EARLY,
        state_countries=_STATE_REQUIRED_AT_DESTINATION,
        postal_formats=True,
    )
    errors += _check_parcels(request)
    errors += ups_customs.validate_customs(request)
    if request.ship_date is not None and not today <= request.ship_date <= today + dt.timedelta(MAX_SHIP_DAYS_AHEAD):
        errors.append(FieldError(f"UPS ships from today up to {MAX_SHIP_DAYS_AHEAD} days ahead", "ship_date"))
    if request.service_point_id is not None and not ACCESS_POINT_ID.fullmatch(request.service_point_id.strip()):
        errors.append(FieldError("a UPS Access Point id is 1 to 9 letters or digits, e.g. U12345678", "service_point_id"))
    if errors:
        raise ShipmentRequestInvalid(CARRIER, errors)
