"""The credentials form generated from each carrier's JSON Schema, and the credentials read back from it."""

from __future__ import annotations

from app.carriers import registry
from app.console.schema_form import fields_of, values_of
from app.integrations.credentials import validate_credentials


def schema(code: str) -> dict:
    return next(c for c in registry.describe() if c["code"] == code)["credentials_schema"]


def test_every_carrier_schema_becomes_a_form_whose_secrets_are_password_inputs() -> None:
    for carrier in registry.describe():
        fields = fields_of(carrier["credentials_schema"])
        flat = [f for f in fields for f in ([f] if f.kind != "group" else f.children)]
        assert flat, carrier["code"]
        secrets = {f.name for f in flat if f.kind == "password"}
        assert secrets, f"{carrier['code']} has no secret field in its form"


def test_nested_optional_blocks_are_fieldsets_left_out_when_empty() -> None:
    fields = fields_of(schema("dhl"))
    groups = {f.name: f for f in fields if f.kind == "group"}
    assert set(groups) == {"parcel_de", "express"} and not groups["express"].required
    assert {c.name for c in groups["express"].children} == {"express.username", "express.password", "express.account_number"}
    form = {"api_key": "dhl-key", "express.username": "u", "express.password": "p", "express.account_number": "123456789"}
    values = values_of(fields, form)
    assert values == {"api_key": "dhl-key", "express": {"username": "u", "password": "p", "account_number": "123456789"}}
    validate_credentials(carrier="dhl", credentials=values)  # what the form sends is what the service takes


def test_enums_are_selects_and_empty_optional_inputs_are_left_out() -> None:
    fields = fields_of(schema("fedex"))
    pickup = next(f for f in fields if f.name == "pickup_type")
    assert pickup.kind == "select" and "DROPOFF_AT_FEDEX_LOCATION" in pickup.options
    values = values_of(fields, {"client_id": "c", "client_secret": "s", "account_number": "740561073", "pickup_type": ""})
    assert values == {"client_id": "c", "client_secret": "s", "account_number": "740561073"}
