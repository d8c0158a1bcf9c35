"""Registry: built-ins by code, capabilities, credential schemas, entry-point plugins."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.config import Settings
from app.carriers import registry
from app.carriers.base import CarrierAdapter
from app.carriers.dhl.adapter import DhlAdapter
from app.carriers.errors import UnknownCarrier
from app.carriers.http import CarrierHttp

BUILTIN_CODES = ["dhl", "fedex", "ups", "postnord", "bring"]


@pytest.fixture(autouse=True)
def fresh_registry():
    registry.refresh()
    yield
    registry.refresh()


def _available_builtins() -> list[str]:
    # the other carrier modules are written concurrently; list those present
    import importlib.util

    return [code for code in BUILTIN_CODES if importlib.util.find_spec(f"app.carriers.{code}") is not None]


def test_builtins_found_by_code() -> None:
    assert registry.get_adapter_class("dhl") is DhlAdapter
    for code in _available_builtins():
        cls = registry.get_adapter_class(code)
        assert issubclass(cls, CarrierAdapter)
        assert cls.code == code
    codes = [cls.code for cls in registry.all_adapter_classes()]
    assert codes[: len(_available_builtins())] == _available_builtins()


def test_builtin_list_is_module_paths() -> None:
    assert registry.BUILTIN_MODULES == tuple(f"app.carriers.{code}.adapter" for code in BUILTIN_CODES)


def test_unknown_code() -> None:
    with pytest.raises(UnknownCarrier) as info:
        registry.get_adapter_class("pigeon")
    assert info.value.code == "pigeon"
    assert "dhl" in info.value.known
    assert isinstance(info.value, LookupError)


def test_describe_reports_capabilities_and_credentials_schema() -> None:
    described = {entry["code"]: entry for entry in registry.describe()}
    dhl = described["dhl"]
    assert dhl["name"] == "DHL"
    assert dhl["capabilities"] == [
        "track", "test_credentials", "parse_webhook", "create_shipment", "void_shipment", "find_service_points", "rate",
    ]
    assert (dhl["webhook_auth_scheme"], dhl["webhook_auth_header"]) == ("secret-header", "x-courier-hub-secret")
    assert dhl["max_batch_size"] == 1
    schema = dhl["credentials_schema"]
    assert schema["type"] == "object"
    assert schema["required"] == ["api_key"]
    assert schema["properties"]["api_key"]["writeOnly"] is True
    for entry in described.values():
        assert set(entry) >= {"code", "name", "capabilities", "max_batch_size", "credentials_schema"}
        assert "track" in entry["capabilities"]
        assert "parse_webhook" in entry["capabilities"]  # the base parses the generic push format for everyone
        assert entry["webhook_auth_scheme"] in ("secret-header", "standard-webhooks")
        assert entry["credentials_schema"]["type"] == "object"
        # Booking is advertised exactly where services can be booked, and not otherwise.
        assert ("create_shipment" in entry["capabilities"]) == bool(entry["services"]), entry["code"]
    assert {code for code, entry in described.items() if "create_shipment" in entry["capabilities"]} >= {"dhl", "fedex", "ups"}
    postnord = described["postnord"]
    assert "create_shipment" in postnord["capabilities"] and "void_shipment" not in postnord["capabilities"]
    assert "find_service_points" in postnord["capabilities"] and "19" in {s["code"] for s in postnord["services"]}
    bring = described["bring"]
    assert "create_shipment" in bring["capabilities"] and "void_shipment" not in bring["capabilities"]
    assert "find_service_points" in bring["capabilities"] and "5800" in {s["code"] for s in bring["services"]}
    # Rating: FedEx, UPS, DHL (MyDHL API) and Bring (Shipping Guide); PostNord publishes no price API.
    assert {code for code, entry in described.items() if "rate" in entry["capabilities"]} == {"fedex", "ups", "dhl", "bring"}
    fedex_services = {service["code"]: service for service in described["fedex"]["services"]}
    assert fedex_services["FEDEX_GROUND"]["domestic"] is True
    assert fedex_services["INTERNATIONAL_ECONOMY"]["international"] is True


def test_create_adapter_validates_and_picks_base_url() -> None:
    http = CarrierHttp(settings=Settings())
    adapter = registry.create_adapter(
        "dhl", credentials={"api_key": "k"}, environment="sandbox", settings=Settings(), http=http
    )
    assert isinstance(adapter, DhlAdapter)
    assert adapter.base_url == "https://api-test.dhl.com"
    assert adapter.credentials.api_key.get_secret_value() == "k"
    prod = registry.create_adapter("dhl", credentials={"api_key": "k"}, environment="production", http=http)
    assert prod.base_url == "https://api-eu.dhl.com"
    overridden = registry.create_adapter(
        "dhl",
        credentials={"api_key": "k"},
        environment="sandbox",
        settings=Settings(dhl_base_url="http://localhost:9999/"),
        http=http,
    )
    assert overridden.base_url == "http://localhost:9999"
    with pytest.raises(ValidationError):
        registry.create_adapter("dhl", credentials={}, environment="sandbox", http=http)
    with pytest.raises(ValidationError):
        registry.create_adapter("dhl", credentials={"api_key": "k", "extra": 1}, environment="sandbox", http=http)
    with pytest.raises(UnknownCarrier):
        registry.create_adapter("pigeon", credentials={}, environment="sandbox", http=http)


PLUGIN_MODULE = '''
from pydantic import BaseModel, SecretStr

from app.carriers.base import CarrierAdapter
from app.carriers.types import TrackingResult


class AcmeCredentials(BaseModel):
    token: SecretStr


class AcmeAdapter(CarrierAdapter):
    code = "acme"
    name = "ACME Couriers"
    credentials_model = AcmeCredentials
    sandbox_base_url = "https://sandbox.acme.test"
    production_base_url = "https://api.acme.test"
    max_batch_size = 10

    async def track(self, tracking_numbers):
        return [TrackingResult(tracking_number=n, found=False) for n in tracking_numbers]

    async def validate_address(self, address):
        return address


class NotAnAdapter:
    code = "broken"
'''


def _install_distribution(root: Path, *, name: str, modules: dict[str, str], entry_points: str) -> None:
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    dist_info = root / f"{name}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def plugin_path(tmp_path: Path):
    _install_distribution(
        tmp_path,
        name="courier_hub_acme",
        modules={"courier_hub_acme": PLUGIN_MODULE, "courier_hub_explodes": "raise RuntimeError('boom at import')\n"},
        entry_points="""
            [courier_hub.couriers]
            acme = courier_hub_acme:AcmeAdapter
            broken = courier_hub_acme:NotAnAdapter
            explodes = courier_hub_explodes:Adapter
            missing = courier_hub_nowhere:Adapter
            dhl = courier_hub_acme:AcmeAdapter
        """,
    )
    sys.path.insert(0, str(tmp_path))
    registry.refresh()
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for module in ("courier_hub_acme", "courier_hub_explodes", "courier_hub_nowhere"):
            sys.modules.pop(module, None)
        registry.refresh()


def test_entry_point_plugin_is_registered(plugin_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cls = registry.get_adapter_class("acme")
    assert cls.__name__ == "AcmeAdapter"
    assert cls.__module__ == "courier_hub_acme"
    described = {entry["code"]: entry for entry in registry.describe()}
    assert described["acme"]["capabilities"] == ["track", "parse_webhook", "validate_address"]
    assert (described["acme"]["webhook_auth_scheme"], described["acme"]["webhook_auth_header"]) == (
        "standard-webhooks",
        None,
    )
    assert described["acme"]["max_batch_size"] == 10
    assert described["acme"]["credentials_schema"]["required"] == ["token"]
    assert described["acme"]["source"] == "plugin:courier_hub_acme:AcmeAdapter"
    # broken plugins are skipped, never fatal; a plugin cannot take a built-in code
    assert "broken" not in described and "explodes" not in described and "missing" not in described
    assert registry.get_adapter_class("dhl") is DhlAdapter
    assert "boom at import" in caplog.text
    adapter = registry.create_adapter(
        "acme", credentials={"token": "t"}, environment="production", http=CarrierHttp(settings=Settings())
    )
    assert adapter.base_url == "https://api.acme.test"


def test_plugin_gone_after_cleanup() -> None:
    with pytest.raises(UnknownCarrier):
        registry.get_adapter_class("acme")


def test_broken_builtin_module_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "BUILTIN_MODULES", ("app.carriers.dhl.adapter", "app.carriers.does_not_exist"))
    registry.refresh()
    assert [cls.code for cls in registry.all_adapter_classes()] == ["dhl"]


@pytest.mark.parametrize("code", ["dhl", "fedex", "ups", "postnord", "bring"])
def test_credentials_reject_unknown_fields(code):
    """A typo in a credential field name is an error, not silently dropped."""
    from pydantic import ValidationError

    from app.carriers.registry import get_adapter_class

    model = get_adapter_class(code).credentials_model
    schema = model.model_json_schema()
    assert schema.get("additionalProperties") is False
    with pytest.raises(ValidationError):
        model.model_validate({**{name: "x" * 32 for name in schema.get("required", [])}, "unexpected_field": "x"})
