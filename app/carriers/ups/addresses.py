"""UPS street-level address validation (Address Validation API v2): build the request, read the verdict (pure functions).

Document: `carrier-samples/ups/openapi-address-validation.yaml` (UPS
Address Validation - Street Level, UPS-API/api-documentation @ e6f36df4):
`POST /api/addressvalidation/v2/{requestoption}` with requestoption 3
("Address Validation and Address Classification"), query
`maximumcandidatelistsize` (0-50, default 15) and `regionalrequestindicator`
False (street level); body `XAVRequestWrapper` (example
`address-validation-request-spec-example.json`), reply `XAVResponseWrapper`
(sample `address-validation-response-example.json`).

Coverage: street-level validation is "Applicable to US and PR only"
(`XAVRequest_AddressKeyFormat.AddressLine`, `Region`): any other country is
refused before a call (`check_country`, CarrierRejected on `country`).

Verdict (`parse_validation_response`):

* valid = `ValidAddressIndicator` is present (UPS sends it as "", so
  presence counts, not the value); `AmbiguousAddressIndicator` (candidates
  follow) and `NoCandidatesIndicator` are not valid;
* classification = `AddressClassification.Code` of the input (0
  UnClassified -> unknown, 1 Commercial, 2 Residential), else that of the
  first candidate when the address is valid;
* candidates = every `Candidate` (one object or a list), best first, as an
  Address: lines from `AddressLine`, city `PoliticalDivision2`, state
  `PoliticalDivision1`, ZIP `PostcodePrimaryLow` + "-" + `PostcodeExtendedLow`,
  country; name, company, phone and email are the input's (UPS returns none);
* messages = `Response.Alert[]` {Code, Description} verbatim.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.carriers.errors import CarrierBadResponse, CarrierRejected
from app.carriers.fields import text_of
from app.carriers.locations import AddressClassification, AddressValidation
from app.carriers.shipping import Address, FieldError
from app.carriers.ups.schemas import UpsXavAddress, UpsXavCandidate, as_list
from app.carriers.ups.servicepoints import address_lines

CARRIER = "ups"
API_VERSION = "v2"
VALIDATION_AND_CLASSIFICATION = "3"
PATH = f"/api/addressvalidation/{API_VERSION}/{VALIDATION_AND_CLASSIFICATION}"
MAX_CANDIDATES = 15
"""`maximumcandidatelistsize` sent (UPS's default; 0-50)."""
COUNTRIES = frozenset({"US", "PR"})
"""Where UPS validates at street level."""
CLASSIFICATIONS: dict[str, AddressClassification] = {"0": "unknown", "1": "commercial", "2": "residential"}


def check_country(address: Address) -> None:
    """Raise CarrierRejected (field `country`, no call made) unless `address` is in the US or PR."""
    if address.country not in COUNTRIES:
        raise CarrierRejected(
            CARRIER,
            f"UPS street-level address validation covers US and PR, not {address.country}",
            errors=[FieldError(message="UPS street-level address validation covers US and PR", field="country")],
        )


def query_params() -> dict[str, str]:
    """`regionalrequestindicator` False (street level) and `maximumcandidatelistsize`."""
    return {"regionalrequestindicator": "False", "maximumcandidatelistsize": str(MAX_CANDIDATES)}


def build_validation_request(address: Address) -> dict[str, Any]:
    """The `XAVRequestWrapper` body for `address` (US/PR; `check_country` first).

    ConsigneeName = company or name (at most 40), AddressLine = the lines,
    PoliticalDivision2 city and PoliticalDivision1 state (at most 30),
    PostcodePrimaryLow = the 5-digit ZIP and PostcodeExtendedLow its +4.
    """
    fields: dict[str, Any] = {
        "ConsigneeName": (address.company or address.name)[:40],
        "AddressLine": [line[:100] for line in address.address_lines],
        "PoliticalDivision2": address.city[:30],
    }
    if address.state:
        fields["PoliticalDivision1"] = address.state[:30]
    digits = "".join(ch for ch in address.postal_code or "" if ch.isdigit())
    if len(digits) in (5, 9):
        fields["PostcodePrimaryLow"] = digits[:5]
        if len(digits) == 9:
            fields["PostcodeExtendedLow"] = digits[5:]
    elif address.postal_code:
        fields["PostcodePrimaryLow"] = address.postal_code[:10]
    fields["CountryCode"] = address.country
    return {"XAVRequest": {"AddressKeyFormat": fields}}


def _classification(value: Any) -> AddressClassification | None:
    code = text_of(value.get("Code")) if isinstance(value, dict) else text_of(value)
    return CLASSIFICATIONS.get(code or "")


def candidate_address(candidate: UpsXavAddress, given: Address) -> Address | None:
    """One candidate's AddressKeyFormat as an Address with the input's name/company/phone/email; None if unusable."""
    lines = address_lines(candidate.AddressLine)[:3]
    country = (text_of(candidate.CountryCode) or given.country).upper()
    primary, extended = text_of(candidate.PostcodePrimaryLow), text_of(candidate.PostcodeExtendedLow)
    try:
        return Address(
            name=given.name,
            company=given.company,
            address_lines=[line[:100] for line in lines] or list(given.address_lines),
            city=(text_of(candidate.PoliticalDivision2) or given.city)[:60],
            postal_code=f"{primary}-{extended}" if primary and extended else primary,
            state=(text_of(candidate.PoliticalDivision1) or "")[:40] or None,
            country=country,
            phone=given.phone,
            email=given.email,
        )
    except ValidationError:
        return None


def parse_validation_response(payload: Any, given: Address) -> AddressValidation:
    """A 200 reply of the validation as AddressValidation (module docstring).

    Raises CarrierBadResponse when the reply is no `XAVResponse` or its
    `Response.ResponseStatus.Code` is "0".
    """
    response = payload.get("XAVResponse") if isinstance(payload, dict) else None
    if not isinstance(response, dict):
        raise CarrierBadResponse(CARRIER, "address validation reply has no XAVResponse")
    header = response.get("Response") if isinstance(response.get("Response"), dict) else {}
    status = header.get("ResponseStatus") if isinstance(header.get("ResponseStatus"), dict) else {}
    if text_of(status.get("Code")) == "0":
        raise CarrierBadResponse(CARRIER, f"address validation answered failure: {status}")
    valid = "ValidAddressIndicator" in response
    candidates = [UpsXavCandidate.model_validate(c) for c in as_list(response.get("Candidate")) if isinstance(c, dict)]
    addresses = [
        address
        for candidate in candidates
        if candidate.AddressKeyFormat is not None
        and (address := candidate_address(candidate.AddressKeyFormat, given)) is not None
    ]
    classification = _classification(response.get("AddressClassification"))
    if classification is None and valid and candidates:
        classification = _classification(candidates[0].AddressClassification)
    messages: list[dict[str, str | None]] = [
        {"code": text_of(alert.get("Code")), "message": text_of(alert.get("Description"))}
        for alert in as_list(header.get("Alert"))
        if isinstance(alert, dict)
    ]
    return AddressValidation(
        valid=valid,
        classification=classification or "unknown",
        candidates=addresses,
        messages=messages,
        raw=payload,
    )
