"""FedEx Address Validation API 1.0.0: the request and the verdict, as pure functions (no I/O).

Documents followed (copies in `carrier-samples/fedex/`):

* `openapi-address-validation-api.json` — `POST /address/v1/addresses/resolve`,
  body `Full_Schema_Validate_Address` (`addressesToValidate[].address`:
  `streetLines` (1-3 lines), `city`, `stateOrProvinceCode` "Maximum length is 2",
  `postalCode`, `countryCode`; `validateAddressControlParameters.includeResolutionTokens`),
  reply `AdvcResponseVO` (`output.resolvedAddresses[]`, `output.alerts[]`), errors
  `ErrorResponseVO` (400 example `address-validation-error-400-spec-example.json`:
  STANDARDIZED.ADDRESS.NOTFOUND); request examples
  `address-validation-request-spec-example-{us,canada,germany,italy,uk}.json`;
* FedEx "Address Validation API" guide (developer.fedex.com, catalog/address-validation/v1/docs),
  section "Address Validation API Return Values": an address is valid when its
  state is Standardized, Resolved is true, DPV (delivery point valid) is true and
  it is not an interpolated address; the INTERPOLATED.STREET.ADDRESS customer
  message means "there is a chance that the address is not valid".

`valid` (see `is_valid`) keeps to that rule, reading it per the `ResolvedAddress`
attribute documentation:

* `attributes.AddressType` STANDARDIZED ("successfully match the address against
  reference data"; NORMALIZED = "unable to match", RAW = "country not supported");
* `attributes.Resolved` true (where FedEx leaves it out, `Matched` true);
* DPV true: `attributes.DPV`, else `normalizedStatusNameDPV`. FedEx provides DPV
  "only for US addresses that are standardized against Postal Data", so it is
  required for US and PR addresses and, elsewhere, only where FedEx reports it;
* `attributes.InterpolatedStreetAddress` not true, and no `customerMessages` at all:
  every documented customer message (INVALID.SUITE.NUMBER, SUITE.NUMBER.REQUIRED,
  PARTIAL.STREET.MATCH, MISSING.OR.AMBIGUOUS.DIRECTIONAL, INTERPOLATED.STREET.ADDRESS,
  RRHC.CONVERSION) says "additional information is required"; likewise
  `SuiteRequiredButMissing` / `InvalidSuiteNumber` true.

`classification`: BUSINESS -> commercial, RESIDENTIAL -> residential, MIXED (a
multi-tenant address with business and residential units) and UNKNOWN -> unknown.
`candidates`: the standardized resolved addresses (FedEx's reference-data match;
a NORMALIZED or RAW one is only the input reformatted), with the input's name,
company, phone and email. `messages`: the customer messages, then the alerts.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.carriers.errors import CarrierBadResponse
from app.carriers.fedex.schemas import AddressValidationResponse, ResolvedAddress
from app.carriers.fields import text_of
from app.carriers.locations import AddressClassification, AddressValidation
from app.carriers.places import ENGLISH, EVERY_TERRITORY, alpha2, city_unless_country
from app.carriers.shipping import Address

CARRIER = "fedex"
ADDRESS_VALIDATION_PATH = "/address/v1/addresses/resolve"
CLASSIFICATIONS: dict[str, AddressClassification] = {
    "BUSINESS": "commercial",
    "RESIDENTIAL": "residential",
    "MIXED": "unknown",
    "UNKNOWN": "unknown",
}
"""`ResolvedAddress.classification` -> our classification."""
DPV_COUNTRIES = frozenset({"US", "PR"})
"""Where FedEx standardizes against USPS postal data and so reports DPV (`normalizedStatusNameDPV`)."""
CUSTOMER_MESSAGES: dict[str, str] = {
    "INVALID.SUITE.NUMBER": "Invalid or missing Apartment/Suite",
    "SUITE.NUMBER.REQUIRED": "Invalid or missing Apartment/Suite",
    "PARTIAL.STREET.MATCH": "A street address is required for delivery. The entered address is a street number range.",
    "MISSING.OR.AMBIGUOUS.DIRECTIONAL": "Invalid or missing address directional.",
    "INTERPOLATED.STREET.ADDRESS": "Unable to confirm exact street number for the entered street name. "
    "The address falls within a valid range for the street name.",
    "RRHC.CONVERSION": "A street address is required for delivery. The address has been converted from a rural route.",
}
"""The documented customer message codes and FedEx's texts (`ResolvedAddress.customerMessage`), for replies
that send a bare code."""
MAX_STATE_CODE = 2


def build_address_validation_request(address: Address) -> dict[str, Any]:
    """The JSON body of `POST /address/v1/addresses/resolve` for one address.

    `{validateAddressControlParameters: {includeResolutionTokens: true},
    addressesToValidate: [{address: {streetLines, city, stateOrProvinceCode?, postalCode?, countryCode}}]}`;
    the state goes only as a code of at most 2 characters (the documented maximum), the postal
    code only when there is one.
    """
    fedex: dict[str, Any] = {"streetLines": list(address.address_lines), "city": address.city}
    if address.state and len(address.state) <= MAX_STATE_CODE:
        fedex["stateOrProvinceCode"] = address.state.upper()
    if address.postal_code:
        fedex["postalCode"] = address.postal_code
    fedex["countryCode"] = address.country
    return {
        "validateAddressControlParameters": {"includeResolutionTokens": True},
        "addressesToValidate": [{"address": fedex}],
    }


def flag(attributes: dict[str, Any], name: str) -> bool | None:
    """An `attributes` boolean (true/false or "true"/"false", any case); None when absent or neither."""
    value = attributes.get(name)
    if isinstance(value, bool):
        return value
    text = (text_of(value) or "").lower()
    return {"true": True, "false": False}.get(text)


def customer_messages(resolved: ResolvedAddress) -> list[dict[str, str | None]]:
    """`customerMessages` (or `customerMessage`) as `{code, message}`: objects verbatim, bare codes with FedEx's text."""
    messages: list[dict[str, str | None]] = []
    for item in [*resolved.customerMessages, *resolved.customerMessage]:
        if isinstance(item, dict):
            code, message = text_of(item.get("code")), text_of(item.get("message"))
        else:
            code, message = text_of(item), None
            message = CUSTOMER_MESSAGES.get(code or "", code)
        if code or message:
            messages.append({"code": code, "message": message or code})
    return messages


def _dpv(resolved: ResolvedAddress, country: str | None) -> bool | None:
    dpv = flag(resolved.attributes, "DPV")
    if dpv is None and country in DPV_COUNTRIES:
        dpv = resolved.normalizedStatusNameDPV
    return dpv


def _standardized(resolved: ResolvedAddress) -> bool:
    address_type = (text_of(resolved.attributes.get("AddressType")) or "").upper()
    if address_type:
        return address_type == "STANDARDIZED"
    return flag(resolved.attributes, "Resolved") is True


def is_valid(resolved: ResolvedAddress, country: str | None) -> bool:
    """FedEx's "valid address" rule for one resolved address (see the module docstring); `country` alpha-2."""
    attributes = resolved.attributes
    resolved_flag = flag(attributes, "Resolved")
    if resolved_flag is None:
        resolved_flag = flag(attributes, "Matched")
    dpv = _dpv(resolved, country)
    messages = customer_messages(resolved)
    return (
        _standardized(resolved)
        and resolved_flag is True
        and (dpv is True if country in DPV_COUNTRIES else dpv is not False)
        and flag(attributes, "InterpolatedStreetAddress") is not True
        and flag(attributes, "SuiteRequiredButMissing") is not True
        and flag(attributes, "InvalidSuiteNumber") is not True
        and flag(attributes, "CountrySupported") is not False
        and not messages
    )


def _postal_code(resolved: ResolvedAddress) -> str | None:
    if text_of(resolved.postalCode):
        return text_of(resolved.postalCode)
    if resolved.postalCodeToken and text_of(resolved.postalCodeToken.value):
        return text_of(resolved.postalCodeToken.value)
    parsed = resolved.parsedPostalCode
    if parsed and text_of(parsed.base):
        return f"{text_of(parsed.base)}-{text_of(parsed.addOn)}" if text_of(parsed.addOn) else text_of(parsed.base)
    return None


def _city(resolved: ResolvedAddress) -> str | None:
    city = resolved.city
    if not text_of(city):
        tokens = [token.get("value") for token in resolved.cityToken if isinstance(token, dict)]
        city = next((text_of(value) for value in tokens if text_of(value)), None)
    return city_unless_country(city, ENGLISH, exclude=EVERY_TERRITORY)


def candidate(resolved: ResolvedAddress, given: Address) -> Address | None:
    """The resolved address as our `Address` (name, company, phone, email from `given`); None if it cannot be one.

    Lines from `streetLinesToken` (at most 3), city (`city`, else `cityToken`; a country
    name is no city), state, postal code (`postalCode`, else `postalCodeToken.value`,
    else `parsedPostalCode` base-addOn), country; a part FedEx leaves out is the input's.
    """
    lines = [text for text in map(text_of, resolved.streetLinesToken) if text][:3]
    state = text_of(resolved.stateOrProvinceCode)
    fields = {
        "name": given.name,
        "company": given.company,
        "phone": given.phone,
        "email": given.email,
        "address_lines": lines or list(given.address_lines),
        "city": _city(resolved) or given.city,
        "state": state if state and len(state) <= 40 else given.state,
        "postal_code": _postal_code(resolved) or given.postal_code,
        "country": alpha2(resolved.countryCode) or given.country,
    }
    try:
        return Address.model_validate(fields)
    except ValidationError:
        return None


def parse_address_validation(payload: Any, given: Address) -> AddressValidation:
    """The `AddressValidation` of a 200 reply to `POST /address/v1/addresses/resolve` for `given`.

    The first resolved address (we send one) gives `valid` and `classification`; no
    resolved address gives valid=False, classification unknown, no candidates.
    Raises CarrierBadResponse when the reply is not an object with an `output`.
    """
    if not isinstance(payload, dict):
        raise CarrierBadResponse(CARRIER, "the address validation reply is not a JSON object")
    reply = AddressValidationResponse.model_validate(payload)
    if reply.output is None:
        raise CarrierBadResponse(CARRIER, "the address validation reply has no output")
    resolved_list = reply.output.resolvedAddresses
    messages = [message for resolved in resolved_list[:1] for message in customer_messages(resolved)]
    messages += [
        {"code": alert.code, "message": alert.message or alert.code}
        for alert in reply.output.alerts
        if alert.code or alert.message
    ]
    if not resolved_list:
        return AddressValidation(valid=False, classification="unknown", candidates=[], messages=messages, raw=payload)
    first = resolved_list[0]
    country = alpha2(first.countryCode) or given.country
    candidates = [
        address
        for resolved in resolved_list
        if _standardized(resolved) and (address := candidate(resolved, given)) is not None
    ]
    return AddressValidation(
        valid=is_valid(first, country),
        classification=CLASSIFICATIONS.get((first.classification or "").strip().upper(), "unknown"),
        candidates=candidates,
        messages=messages,
        raw=payload,
    )
