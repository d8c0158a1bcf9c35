"""FedEx address validation through respx: the request FedEx documents, its verdict read per the documented rule.

Samples: ../shared/carrier-samples/fedex (address-validation-request-spec-example-*.json,
address-validation-error-400-spec-example.json, openapi-address-validation-api.json: its
401/503 examples). FedEx publishes no full 200 reply; the replies here are built from the
`ResolvedAddress` schema of that OpenAPI (property names and documented values) in the shape
FedEx sends (attribute values as "true"/"false" strings, `customerMessages`, `postalCodeToken`),
each with the fields changed that the test names.
"""

from __future__ import annotations

import copy
import json
from functools import partial
from typing import Any

import httpx
import pytest
import respx

from app.carriers.errors import CarrierAuthError, CarrierBadResponse, CarrierRejected, CarrierUnavailable
from app.carriers.fedex import addresses
from app.carriers.fedex.adapter import FedexAdapter
from app.carriers.shipping import Address
from tests.carriers.fedex.fedex_helpers import BASE, token_route
from tests.carriers.helpers import load_json_sample, spec_errors

RESOLVE_URL = f"{BASE}/address/v1/addresses/resolve"

sample = partial(load_json_sample, "fedex")


def spec() -> dict[str, Any]:
    return sample("openapi-address-validation-api.json")


def us_input(**overrides: Any) -> Address:
    """The address of FedEx's US request example, with a merchant's contact fields."""
    return Address.model_validate(
        {
            "name": "Mary Major",
            "company": "Acme Inc",
            "phone": "+1 901 555 0199",
            "email": "mary@example.com",
            "address_lines": ["7372 Parkridge Blvd", "Apt 286"],
            "city": "Irving",
            "state": "TX",
            "postal_code": "75063",
            "country": "US",
        }
        | overrides
    )


def resolved(**overrides: Any) -> dict[str, Any]:
    """One standardized, resolved, delivery-point-valid US `ResolvedAddress` (values of the spec's examples)."""
    address: dict[str, Any] = {
        "streetLinesToken": ["7372 PARKRIDGE BLVD", "APT 286"],
        "city": "IRVING",
        "cityToken": [{"changed": True, "value": "IRVING"}],
        "stateOrProvinceCode": "TX",
        "postalCodeToken": {"changed": True, "value": "75063-8659"},
        "parsedPostalCode": {"base": "75063", "addOn": "8659", "deliveryPoint": "86"},
        "countryCode": "US",
        "classification": "RESIDENTIAL",
        "postOfficeBox": False,
        "normalizedStatusNameDPV": True,
        "standardizedStatusNameMatchSource": "Postal",
        "resolutionMethodName": "USPS_VALIDATE",
        "ruralRouteHighwayContract": False,
        "generalDelivery": False,
        "customerMessages": [],
        "attributes": {
            "POBox": "false",
            "SuiteRequiredButMissing": "false",
            "InvalidSuiteNumber": "false",
            "ResolutionInput": "RAW_ADDRESS",
            "DPV": "true",
            "ResolutionMethod": "USPS_VALIDATE",
            "DataVintage": "July 2020",
            "MatchSource": "Postal",
            "CountrySupported": "true",
            "ValidlyFormed": "true",
            "Matched": "true",
            "Resolved": "true",
            "Inserted": "false",
            "InterpolatedStreetAddress": "false",
            "AddressType": "STANDARDIZED",
            "AddressPrecision": "STREET_ADDRESS",
            "MultipleMatches": "false",
        },
    }
    attributes = overrides.pop("attributes", {})
    address.update(overrides)
    address["attributes"] = {**address["attributes"], **attributes}
    return address


def reply(*resolved_addresses: dict[str, Any], alerts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An `AdvcResponseVO` with these resolved addresses."""
    return {
        "transactionId": "624deea6-b709-470c-8c39-4b5511281492",
        "output": {"resolvedAddresses": list(resolved_addresses), "alerts": alerts or []},
    }


# ---------------------------------------------------------------- the request


@pytest.mark.parametrize("country", ["us", "canada", "germany", "italy", "uk"])
def test_request_matches_fedex_examples(country: str) -> None:
    """Each of FedEx's request examples, read as our Address, gives back FedEx's own request (spec-valid)."""
    example = sample(f"address-validation-request-spec-example-{country}.json")
    fedex = example["addressesToValidate"][0]["address"]
    postal = str(fedex["postalCode"]).zfill(5) if country == "italy" else fedex["postalCode"]  # FedEx wrote 00187 as 187
    given = Address(
        name="Test",
        address_lines=fedex["streetLines"],
        city=fedex["city"],
        state=fedex.get("stateOrProvinceCode") or None,
        postal_code=postal,
        country=fedex["countryCode"],
    )
    body = addresses.build_address_validation_request(given)
    expected = {key: value for key, value in fedex.items() if value != ""} | {"postalCode": postal}
    assert body["addressesToValidate"] == [{"address": expected}]
    assert body["validateAddressControlParameters"] == {"includeResolutionTokens": True}
    assert spec_errors(spec(), "Full_Schema_Validate_Address", body) == []


def test_request_leaves_out_a_state_longer_than_two_and_a_missing_postal_code() -> None:
    body = addresses.build_address_validation_request(
        Address(name="A", address_lines=["Via Roma 1"], city="Palermo", state="Sicilia", country="IT")
    )
    assert body["addressesToValidate"][0]["address"] == {"streetLines": ["Via Roma 1"], "city": "Palermo", "countryCode": "IT"}


# ---------------------------------------------------------------- the verdict through the adapter


async def test_valid_residential_address(adapter: FedexAdapter) -> None:
    given = us_input()
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        route = router.post(RESOLVE_URL).mock(
            return_value=httpx.Response(
                200,
                json=reply(resolved(), alerts=[{"code": "VIRTUAL.RESPONSE", "message": "This is a Virtual Response.", "alertType": "NOTE"}]),
            )
        )
        verdict = await adapter.validate_address(given)

    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Bearer tok-1" and sent.headers["X-locale"] == "en_US"
    assert sent.headers["x-customer-transaction-id"]
    assert json.loads(sent.content) == addresses.build_address_validation_request(given)
    assert verdict.valid is True
    assert verdict.classification == "residential"
    [candidate] = verdict.candidates
    assert candidate.address_lines == ["7372 PARKRIDGE BLVD", "APT 286"]
    assert (candidate.city, candidate.state, candidate.postal_code, candidate.country) == ("IRVING", "TX", "75063-8659", "US")
    assert (candidate.name, candidate.company, candidate.phone, candidate.email) == (
        "Mary Major", "Acme Inc", "+1 901 555 0199", "mary@example.com"
    )
    assert verdict.messages == [{"code": "VIRTUAL.RESPONSE", "message": "This is a Virtual Response."}]
    assert verdict.raw["output"]["resolvedAddresses"][0]["classification"] == "RESIDENTIAL"


@pytest.mark.parametrize(
    ("fedex", "ours"),
    [("BUSINESS", "commercial"), ("RESIDENTIAL", "residential"), ("MIXED", "unknown"), ("UNKNOWN", "unknown"), (None, "unknown")],
)
def test_classification(fedex: str | None, ours: str) -> None:
    verdict = addresses.parse_address_validation(reply(resolved(classification=fedex)), us_input())
    assert verdict.classification == ours


@pytest.mark.parametrize(
    "change",
    [
        {"attributes": {"DPV": "false"}},
        {"attributes": {"Resolved": "false"}},
        {"attributes": {"AddressType": "NORMALIZED"}},
        {"attributes": {"InterpolatedStreetAddress": "true"}},
        {"attributes": {"SuiteRequiredButMissing": "true"}},
        {"attributes": {"InvalidSuiteNumber": True}},
    ],
    ids=["dpv-false", "not-resolved", "normalized", "interpolated", "suite-missing", "invalid-suite"],
)
def test_each_documented_failure_makes_the_address_invalid(change: dict[str, Any]) -> None:
    verdict = addresses.parse_address_validation(reply(resolved(**copy.deepcopy(change))), us_input())
    assert verdict.valid is False


def test_booleans_are_read_as_json_booleans_too() -> None:
    attributes = {"DPV": True, "Resolved": True, "AddressType": "STANDARDIZED", "InterpolatedStreetAddress": False}
    assert addresses.parse_address_validation(reply(resolved(attributes=attributes)), us_input()).valid is True


def test_interpolated_customer_message_is_invalid_and_reported() -> None:
    message = {
        "code": "INTERPOLATED.STREET.ADDRESS",
        "message": "Unable to confirm exact street number for the entered street name. The address falls within a valid range for the street name.",
    }
    verdict = addresses.parse_address_validation(reply(resolved(customerMessages=[message])), us_input())
    assert verdict.valid is False
    assert verdict.messages == [message]
    assert len(verdict.candidates) == 1  # standardized: still FedEx's suggestion


def test_bare_message_codes_get_fedex_text() -> None:
    """The schema spells the list `customerMessage` and lists codes; a bare code gets FedEx's documented text."""
    verdict = addresses.parse_address_validation(
        reply(resolved(customerMessage=["SUITE.NUMBER.REQUIRED"])), us_input()
    )
    assert verdict.valid is False
    assert verdict.messages == [{"code": "SUITE.NUMBER.REQUIRED", "message": "Invalid or missing Apartment/Suite"}]


def test_dpv_is_required_only_where_fedex_reports_it() -> None:
    """DPV is US postal data: a US address without it is not valid, a UK one is (if otherwise standardized)."""
    no_dpv = {"normalizedStatusNameDPV": None, "attributes": {"DPV": None}}
    assert addresses.parse_address_validation(reply(resolved(**copy.deepcopy(no_dpv))), us_input()).valid is False
    uk = resolved(
        **copy.deepcopy(no_dpv),
        streetLinesToken=["24 GROSVENOR SQUARE"],
        city="LONDON",
        stateOrProvinceCode=None,
        postalCodeToken=None,
        parsedPostalCode=None,
        postalCode="W1K 6AH",
        countryCode="GB",
        classification="UNKNOWN",
    )
    given = us_input(address_lines=["24 Grosvenor Square"], city="London", state=None, postal_code="W1A 2LQ", country="GB")
    verdict = addresses.parse_address_validation(reply(uk), given)
    assert verdict.valid is True
    assert verdict.candidates[0].postal_code == "W1K 6AH" and verdict.candidates[0].state is None


def test_resolved_missing_falls_back_to_matched() -> None:
    """A reply without `Resolved` (seen in FedEx sandbox replies) reads `Matched`."""
    assert addresses.parse_address_validation(reply(resolved(attributes={"Resolved": None})), us_input()).valid is True
    unmatched = resolved(attributes={"Resolved": None, "Matched": "false"})
    assert addresses.parse_address_validation(reply(unmatched), us_input()).valid is False


def test_unsupported_country_is_invalid_without_candidates() -> None:
    raw = resolved(countryCode="AQ", attributes={"AddressType": "RAW", "CountrySupported": "false", "DPV": None})
    verdict = addresses.parse_address_validation(reply(raw), us_input(country="AQ", state=None))
    assert verdict.valid is False and verdict.candidates == []


def test_postal_code_from_parsed_postal_code_and_input_fallbacks() -> None:
    raw = resolved(postalCodeToken=None, city=None, cityToken=[], streetLinesToken=[])
    [candidate] = addresses.parse_address_validation(reply(raw), us_input()).candidates
    assert candidate.postal_code == "75063-8659"
    assert candidate.city == "Irving" and candidate.address_lines == ["7372 Parkridge Blvd", "Apt 286"]  # the input's


def test_no_resolved_address_is_invalid() -> None:
    verdict = addresses.parse_address_validation(reply(), us_input())
    assert (verdict.valid, verdict.classification, verdict.candidates) == (False, "unknown", [])


def test_reply_without_output_is_a_bad_response() -> None:
    with pytest.raises(CarrierBadResponse):
        addresses.parse_address_validation({"transactionId": "x"}, us_input())
    with pytest.raises(CarrierBadResponse):
        addresses.parse_address_validation([], us_input())


# ---------------------------------------------------------------- errors


async def test_400_is_rejected_with_fedex_errors(adapter: FedexAdapter) -> None:
    error = sample("address-validation-error-400-spec-example.json")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        route = router.post(RESOLVE_URL).mock(return_value=httpx.Response(400, json=error))
        with pytest.raises(CarrierRejected) as info:
            await adapter.validate_address(us_input())
    assert route.call_count == 1
    assert info.value.status_code == 400
    assert [(e.code, e.message) for e in info.value.errors] == [
        ("STANDARDIZED.ADDRESS.NOTFOUND", "Standardized address is not found.")
    ]


async def test_401_twice_is_an_auth_error(adapter: FedexAdapter) -> None:
    expired = spec()["paths"]["/address/v1/addresses/resolve"]["post"]["responses"]["401"]["content"]["application/json"]["example"]
    with respx.mock(assert_all_called=True) as router:
        tokens = token_route(router)
        route = router.post(RESOLVE_URL).mock(return_value=httpx.Response(401, json=expired))
        with pytest.raises(CarrierAuthError) as info:
            await adapter.validate_address(us_input())
    assert route.call_count == 2 and tokens.call_count == 2
    assert "NOT.AUTHORIZED.ERROR" in info.value.message


async def test_503_is_unavailable_after_retries(adapter: FedexAdapter) -> None:
    down = spec()["paths"]["/address/v1/addresses/resolve"]["post"]["responses"]["503"]["content"]["application/json"]["example"]
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        route = router.post(RESOLVE_URL).mock(return_value=httpx.Response(503, json=down))
        with pytest.raises(CarrierUnavailable) as info:
            await adapter.validate_address(us_input())
    assert route.call_count > 1  # a read: retried
    assert info.value.status_code == 503


def test_capability_advertised() -> None:
    assert "validate_address" in FedexAdapter.capabilities()
