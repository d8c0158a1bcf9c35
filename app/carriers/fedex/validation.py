"""What FedEx would refuse in a booking, found before calling it (`validate_request`).

Source: the Ship API OpenAPI (`carrier-samples/fedex/openapi-ship-api.json`,
`Full_Schema_Ship` and the schemas it references):

* `ShipperParty` / `RecipientsParty` -> `PartyContact.phoneNumber` is required:
  "Minimum length is 10 and supports maximum of 15 ... For US and CA, a phone
  number must have exactly 10 digits, plus an optional leading country code
  of '1' or '+1'"; `personName` max 70, `companyName` max 35, `emailAddress` max 80;
* `PartyAddress_2`: `streetLines` "Max Length is 35" per line, `city` maxLength 35,
  `postalCode` "Optional for non postal-aware countries. Maximum length is 10",
  `stateOrProvinceCode` "required for US, CA, PR" (`Address_1`) as the two-letter code;
* `RequestedShipment_1.requestedPackageLineItems`: "Maximum occurrences is 30";
  `Dimensions`: "when added, then all three dimensions must be indicated",
  whole numbers, "Maximum value: 999";
* `CustomsClearanceDetail`: "Required for International ... Shipments", one
  currency per shipment ("must match in all currencies in one shipment");
* `serviceType`: one of `app.carriers.fedex.units.SERVICES`, on a lane it serves.

Every failing field is reported at once, as paths of the `POST /v1/labels` body.
"""

from __future__ import annotations

import re
from typing import Protocol

from app.carriers.errors import ShipmentRequestInvalid
from app.carriers.fedex.units import (
    MAX_DIMENSION,
    SERVICES,
    SERVICES_BY_CODE,
    fedex_dimension,
    weight_units,
)
from app.carriers.shipping import Address, FieldError, ShipmentRequest, needs_customs

CARRIER = "fedex"
MAX_PACKAGES = 30
MAX_STREET_LINE = 35
MAX_CITY = 35
MAX_PERSON_NAME = 70
MAX_COMPANY_NAME = 35
MAX_EMAIL = 80
MAX_POSTAL_CODE = 10
STATE_REQUIRED_COUNTRIES = frozenset({"US", "CA", "PR"})
TEN_DIGIT_PHONE_COUNTRIES = frozenset({"US", "CA"})
POSTAL_AWARE_COUNTRIES = frozenset(
    "AR AT AU BE BG BR BY CA CH CL CN CO CZ DE DK DZ EE ES FI FR GB GR HR HU ID IL IN IS IT JP KR KZ LI LT LU LV "
    "MA MC MD ME MK MX MY NL NO NZ PH PK PL PR PT RO RS RU SA SE SG SI SK SM TH TN TR TW UA US UY VA VI VN ZA".split()
)
"""Countries whose FedEx addresses need a postal code (FedEx "Postal aware countries" reference, linked from
`postalCode`; not in the samples: this is the subset with national postal codes we are sure of)."""


class HasAccountNumber(Protocol):
    """What `validate_request` reads of the integration's credentials."""

    account_number: str


def phone_digits(phone: str | None) -> str:
    """The digits of a phone number as FedEx takes them ("+1 (901) 555-0100" -> "19015550100")."""
    return re.sub(r"\D", "", phone or "")


def _phone_errors(party: str, address: Address) -> list[FieldError]:
    field = f"{party}.phone"
    digits = phone_digits(address.phone)
    if not digits:
        return [FieldError(f"FedEx requires a phone number for the {party}", field)]
    if address.country in TEN_DIGIT_PHONE_COUNTRIES:
        national = digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
        if len(national) != 10:
            return [FieldError("FedEx needs exactly 10 digits for a US or CA phone number (plus an optional leading 1)", field)]
    elif not 10 <= len(digits) <= 15:
        return [FieldError("FedEx needs a phone number of 10 to 15 digits; include the country calling code", field)]
    return []


def _address_errors(party: str, address: Address) -> list[FieldError]:
    errors = _phone_errors(party, address)
    for index, line in enumerate(address.address_lines):
        if len(line) > MAX_STREET_LINE:
            errors.append(FieldError(f"FedEx takes at most {MAX_STREET_LINE} characters per address line", f"{party}.address_lines.{index}"))
    if len(address.city) > MAX_CITY:
        errors.append(FieldError(f"FedEx takes at most {MAX_CITY} characters for the city", f"{party}.city"))
    if len(address.name) > MAX_PERSON_NAME:
        errors.append(FieldError(f"FedEx takes at most {MAX_PERSON_NAME} characters for the name", f"{party}.name"))
    if address.company and len(address.company) > MAX_COMPANY_NAME:
        errors.append(FieldError(f"FedEx takes at most {MAX_COMPANY_NAME} characters for the company", f"{party}.company"))
    if address.email and len(address.email) > MAX_EMAIL:
        errors.append(FieldError(f"FedEx takes at most {MAX_EMAIL} characters for the email", f"{party}.email"))
    if not address.postal_code:
        if address.country in POSTAL_AWARE_COUNTRIES:
            errors.append(FieldError(f"FedEx requires a postal code for addresses in {address.country}", f"{party}.postal_code"))
    elif len(address.postal_code) > MAX_POSTAL_CODE:
        errors.append(FieldError(f"FedEx takes at most {MAX_POSTAL_CODE} characters for the postal code", f"{party}.postal_code"))
    if address.country in STATE_REQUIRED_COUNTRIES:
        if not address.state:
            errors.append(FieldError(f"FedEx requires the state/province code for addresses in {address.country}", f"{party}.state"))
        elif not re.fullmatch(r"[A-Za-z]{2}", address.state):
            errors.append(FieldError(f"FedEx needs the two-letter state/province code in {address.country}, e.g. 'CA'", f"{party}.state"))
    return errors


def _service_errors(request: ShipmentRequest) -> list[FieldError]:
    service = SERVICES_BY_CODE.get(request.service)
    if service is None:
        codes = ", ".join(s.code for s in SERVICES)
        return [FieldError(f"{request.service!r} is not a FedEx service we book; use one of {codes}", "service")]
    international = request.shipper.country != request.recipient.country
    if international and not service.international:
        return [FieldError(f"{service.code} ({service.name}) is a domestic service; shipper and recipient countries differ", "service")]
    if not international and not service.domestic:
        return [FieldError(f"{service.code} ({service.name}) is an international service; shipper and recipient are both in {request.shipper.country}", "service")]
    return []


def _parcel_errors(request: ShipmentRequest) -> list[FieldError]:
    if len(request.parcels) > MAX_PACKAGES:
        return [FieldError(f"FedEx takes at most {MAX_PACKAGES} packages per shipment", "parcels")]
    _, dim_unit = weight_units(request.shipper.country)
    errors: list[FieldError] = []
    for index, parcel in enumerate(request.parcels):
        sides = {"length_mm": parcel.length_mm, "width_mm": parcel.width_mm, "height_mm": parcel.height_mm}
        given = {name: value for name, value in sides.items() if value is not None}
        if given and len(given) < 3:
            errors += [
                FieldError("FedEx needs all three dimensions or none", f"parcels.{index}.{name}")
                for name in sides
                if name not in given
            ]
        for name, value in given.items():
            if fedex_dimension(value, dim_unit) > MAX_DIMENSION:
                errors.append(FieldError(f"FedEx takes at most {MAX_DIMENSION} {dim_unit} per side", f"parcels.{index}.{name}"))
    return errors


def _customs_errors(request: ShipmentRequest) -> list[FieldError]:
    shipper, recipient = request.shipper.country, request.recipient.country
    if request.customs is None:
        if needs_customs(shipper, recipient):
            return [FieldError(f"FedEx requires a customs declaration for a shipment from {shipper} to {recipient}", "customs")]
        return []
    if shipper == recipient:
        return []
    currency = request.customs.items[0].currency
    return [
        FieldError(f"FedEx needs one currency per shipment; the first item is in {currency}", f"customs.items.{index}.currency")
        for index, item in enumerate(request.customs.items)
        if item.currency != currency
    ]


def validate_request(request: ShipmentRequest, credentials: HasAccountNumber) -> None:
    """Raise ShipmentRequestInvalid listing every field of `request` FedEx would refuse (see the module docstring).

    `credentials` is the integration's `FedexCredentials` (its account number
    bills the booking). Returns None when FedEx can take the request as far
    as we can see.
    """
    errors = [
        *_service_errors(request),
        *_address_errors("shipper", request.shipper),
        *_address_errors("recipient", request.recipient),
        *_parcel_errors(request),
        *_customs_errors(request),
    ]
    if not (credentials.account_number or "").strip():
        errors.append(FieldError("the FedEx integration has no account number to bill the shipment to", None))
    if errors:
        raise ShipmentRequestInvalid(CARRIER, errors)
