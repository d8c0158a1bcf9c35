"""UPS street-level address validation (Address Validation v2, request option 3) through respx.

Reply used as recorded: `address-validation-response-example.json` (UPS's
Postman collection: ValidAddressIndicator "" and one Candidate object). The
samples have no ambiguous, no-candidate, classified or alerting reply: those
are built from the `XAVResponse` schema of `openapi-address-validation.yaml`
and say so. The request is checked against that schema and its example
(`address-validation-request-spec-example.json`).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import httpx
import pytest
import respx

from app.carriers.errors import CarrierAuthError, CarrierBadResponse, CarrierRejected, CarrierUnavailable
from app.carriers.http import CarrierHttp
from app.carriers.oauth import OAuthTokenCache
from app.carriers.shipping import Address
from app.carriers.ups import addresses
from app.carriers.ups.adapter import UpsAdapter, UpsCredentials
from tests.carriers.helpers import load_json_sample, load_spec, numbered_tokens, spec_errors

BASE = "https://wwwcie.ups.com"
XAV_URL = f"{BASE}/api/addressvalidation/v2/3"
sample = partial(load_json_sample, "ups")


@pytest.fixture
def adapter(http: CarrierHttp) -> UpsAdapter:
    credentials = UpsCredentials(client_id="ups-client", client_secret="ups-secret")
    return UpsAdapter(credentials=credentials, http=http, environment="sandbox", token_cache=OAuthTokenCache())


def tokens(router: respx.MockRouter) -> respx.Route:
    return router.post(f"{BASE}/security/v1/oauth/token").mock(
        side_effect=numbered_tokens(token_type="Bearer", expires_in="14399")
    )


def address(**changes: Any) -> Address:
    body: dict[str, Any] = {
        "name": "Jane Doe",
        "company": "Ritz Camera",
        "address_lines": ["12380 Morris Rd", "Ste D"],
        "city": "Alpharetta",
        "state": "GA",
        "postal_code": "30005-4616",
        "country": "US",
        "phone": "+1 555 0100",
        "email": "jane@example.com",
    }
    return Address.model_validate({**body, **changes})


async def validate(adapter: UpsAdapter, reply: dict[str, Any], given: Address | None = None) -> Any:
    with respx.mock(assert_all_called=True) as router:
        tokens(router)
        route = router.post(XAV_URL).mock(return_value=httpx.Response(200, json=reply))
        result = await adapter.validate_address(given or address())
    return result, route.calls[0].request


async def test_request_follows_the_spec() -> None:
    body = addresses.build_validation_request(address())
    assert spec_errors(load_spec("ups", "openapi-address-validation.yaml"), "XAVRequestWrapper", body) == []
    example = sample("address-validation-request-spec-example.json")["XAVRequest"]["AddressKeyFormat"]
    sent = body["XAVRequest"]["AddressKeyFormat"]
    assert set(sent) <= set(example)
    assert sent == {
        "ConsigneeName": "Ritz Camera",
        "AddressLine": ["12380 Morris Rd", "Ste D"],
        "PoliticalDivision2": "Alpharetta",
        "PoliticalDivision1": "GA",
        "PostcodePrimaryLow": "30005",
        "PostcodeExtendedLow": "4616",
        "CountryCode": "US",
    }


async def test_valid_sample(adapter: UpsAdapter) -> None:
    result, sent = await validate(adapter, sample("address-validation-response-example.json"))
    assert sent.url.path == "/api/addressvalidation/v2/3"  # request option 3: validation + classification
    assert sent.url.params["regionalrequestindicator"] == "False"  # street level
    assert 0 <= int(sent.url.params["maximumcandidatelistsize"]) <= 50
    assert json.loads(sent.content)["XAVRequest"]["AddressKeyFormat"]["CountryCode"] == "US"
    assert result.valid is True
    assert result.classification == "unknown"  # the sample carries no classification
    [candidate] = result.candidates
    assert candidate.address_lines == ["12380 MORRIS RD"]
    assert (candidate.city, candidate.state, candidate.postal_code, candidate.country) == (
        "ALPHARETTA", "GA", "30005-4616", "US",
    )  # fmt: skip
    assert (candidate.name, candidate.company, candidate.phone) == ("Jane Doe", "Ritz Camera", "+1 555 0100")  # the input's
    assert result.messages == [] and result.raw["XAVResponse"]["Response"]["ResponseStatus"]["Code"] == "1"


async def test_ambiguous_with_candidates_classification_and_alerts(adapter: UpsAdapter) -> None:
    """Built from the schema: AmbiguousAddressIndicator, two candidates (a list), classification 2, an Alert."""
    reply = {"XAVResponse": {
        "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"},
                     "Alert": [{"Code": "XAV1", "Description": "Address is ambiguous"}]},
        "AmbiguousAddressIndicator": "",
        "AddressClassification": {"Code": "2", "Description": "Residential"},
        "Candidate": [
            {"AddressClassification": {"Code": "2"}, "AddressKeyFormat": {
                "AddressLine": ["12380 MORRIS RD", "STE D"], "PoliticalDivision2": "ALPHARETTA",
                "PoliticalDivision1": "GA", "PostcodePrimaryLow": "30005", "CountryCode": "US"}},
            {"AddressClassification": {"Code": "1"}, "AddressKeyFormat": {
                "AddressLine": "12380 MORRIS ROAD", "PoliticalDivision2": "MILTON",
                "PoliticalDivision1": "GA", "PostcodePrimaryLow": "30004", "PostcodeExtendedLow": "1234",
                "CountryCode": "US"}},
        ],
    }}  # fmt: skip
    result, _ = await validate(adapter, reply)
    assert result.valid is False and result.classification == "residential"
    assert [c.address_lines for c in result.candidates] == [["12380 MORRIS RD", "STE D"], ["12380 MORRIS ROAD"]]
    assert [c.postal_code for c in result.candidates] == ["30005", "30004-1234"]
    assert result.messages == [{"code": "XAV1", "message": "Address is ambiguous"}]


@pytest.mark.parametrize(("code", "expected"), [("1", "commercial"), ("2", "residential"), ("0", "unknown")])
async def test_classification_codes(adapter: UpsAdapter, code: str, expected: str) -> None:
    """Built: the sample with an `AddressClassification` of each documented code."""
    reply = sample("address-validation-response-example.json")
    reply["XAVResponse"]["AddressClassification"] = {"Code": code, "Description": "x"}
    result, _ = await validate(adapter, reply)
    assert result.classification == expected


async def test_candidate_classification_when_valid(adapter: UpsAdapter) -> None:
    reply = sample("address-validation-response-example.json")
    reply["XAVResponse"]["Candidate"]["AddressClassification"] = {"Code": "1", "Description": "Commercial"}
    result, _ = await validate(adapter, reply)
    assert (result.valid, result.classification) == (True, "commercial")


async def test_no_candidates(adapter: UpsAdapter) -> None:
    """Built: NoCandidatesIndicator and no Candidate."""
    reply = {"XAVResponse": {"Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}}, "NoCandidatesIndicator": ""}}
    result, _ = await validate(adapter, reply)
    assert (result.valid, result.classification, result.candidates) == (False, "unknown", [])


async def test_outside_us_and_pr_refused_without_a_call(adapter: UpsAdapter) -> None:
    with respx.mock(assert_all_called=False) as router:
        token = tokens(router)
        route = router.post(XAV_URL).mock(return_value=httpx.Response(500))
        with pytest.raises(CarrierRejected) as info:
            await adapter.validate_address(address(country="DE", state=None, postal_code="53113"))
    assert token.call_count == 0 and route.call_count == 0
    [error] = info.value.errors
    assert (error.field, error.message) == ("country", "UPS street-level address validation covers US and PR")


async def test_puerto_rico_is_validated(adapter: UpsAdapter) -> None:
    result, sent = await validate(adapter, sample("address-validation-response-example.json"), address(country="PR", state=None))
    assert json.loads(sent.content)["XAVRequest"]["AddressKeyFormat"]["CountryCode"] == "PR" and result.valid


async def test_ups_errors(adapter: UpsAdapter) -> None:
    """Built in the documented ErrorResponse envelope; the auth error is the recorded `auth-error-250003.json`."""
    refusal = {"response": {"errors": [{"code": "264002", "message": "Country Code is invalid or missing."}]}}
    with respx.mock(assert_all_called=True) as router:
        tokens(router)
        router.post(XAV_URL).mock(
            side_effect=[
                httpx.Response(400, json=refusal),
                httpx.Response(400, json=sample("auth-error-250003.json")),
                httpx.Response(200, json={"unexpected": True}),
                *[httpx.Response(503)] * 10,
            ]
        )
        with pytest.raises(CarrierRejected) as rejected:
            await adapter.validate_address(address())
        with pytest.raises(CarrierAuthError):
            await adapter.validate_address(address())
        with pytest.raises(CarrierBadResponse):
            await adapter.validate_address(address())
        with pytest.raises(CarrierUnavailable):
            await adapter.validate_address(address())
    [error] = rejected.value.errors
    assert (error.code, error.message) == ("264002", "Country Code is invalid or missing.")
