"""Carrier adapter registry: built-in carriers plus `courier_hub.couriers` plugins.

Built-ins are the modules in `BUILTIN_MODULES`; each defines one
`CarrierAdapter` subclass (found by scanning the module). Third-party
packages add a carrier without touching this repository by declaring an
entry point, e.g. in their pyproject.toml::

    [project.entry-points."courier_hub.couriers"]
    acme = "acme_courier.adapter:AcmeAdapter"

A module that fails to import or a plugin that fails to load is logged and
skipped; it never breaks the registry. A plugin cannot replace a built-in
code. Discovery runs once per process; `refresh()` runs it again.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from app.core.config import Settings, get_settings
from app.carriers.base import CarrierAdapter, Environment
from app.carriers.errors import UnknownCarrier

if TYPE_CHECKING:
    from app.carriers.http import CarrierHttp

__all__ = [
    "BUILTIN_MODULES",
    "ENTRY_POINT_GROUP",
    "UnknownCarrier",
    "all_adapter_classes",
    "create_adapter",
    "describe",
    "get_adapter_class",
    "refresh",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "courier_hub.couriers"

BUILTIN_MODULES: tuple[str, ...] = (
    "app.carriers.dhl.adapter",
    "app.carriers.fedex.adapter",
    "app.carriers.ups.adapter",
    "app.carriers.postnord.adapter",
    "app.carriers.bring.adapter",
)


@dataclass(frozen=True)
class _Registered:
    adapter_class: type[CarrierAdapter]
    source: str  # "builtin" or "plugin:<distribution or entry point value>"


def _is_adapter_class(obj: Any) -> bool:
    return (
        inspect.isclass(obj)
        and issubclass(obj, CarrierAdapter)
        and obj is not CarrierAdapter
        and isinstance(obj.__dict__.get("code"), str)
    )


def _problems(cls: type[CarrierAdapter]) -> list[str]:
    """What keeps `cls` from being usable as an adapter (empty when fine)."""
    problems = [
        f"missing class attribute {attr!r}"
        for attr in ("code", "name", "credentials_model", "sandbox_base_url", "production_base_url")
        if not hasattr(cls, attr)
    ]
    model = getattr(cls, "credentials_model", None)
    if model is not None and not (inspect.isclass(model) and hasattr(model, "model_json_schema")):
        problems.append("credentials_model is not a Pydantic model")
    return problems


def _load_builtin(module_path: str) -> type[CarrierAdapter] | None:
    try:
        module = importlib.import_module(module_path)
    except ModuleNotFoundError as exc:
        if exc.name == module_path:  # the carrier module is not written/installed
            logger.debug("built-in carrier module %s not present", module_path)
        else:
            logger.exception("built-in carrier module %s failed to import; skipped", module_path)
        return None
    except Exception:
        logger.exception("built-in carrier module %s failed to import; skipped", module_path)
        return None
    classes = [obj for obj in vars(module).values() if _is_adapter_class(obj) and obj.__module__ == module.__name__]
    if len(classes) != 1:
        logger.error("module %s defines %d CarrierAdapter subclasses with a code, expected 1; skipped", module_path, len(classes))
        return None
    return classes[0]


def _iter_plugins() -> list[tuple[str, type[CarrierAdapter]]]:
    """(source, class) of every loadable `courier_hub.couriers` entry point."""
    found: list[tuple[str, type[CarrierAdapter]]] = []
    try:
        eps = entry_points(group=ENTRY_POINT_GROUP)
    except Exception:
        logger.exception("could not read entry points of group %s", ENTRY_POINT_GROUP)
        return found
    for ep in eps:
        source = f"plugin:{ep.value}"
        try:
            obj = ep.load()
        except Exception:
            logger.exception("carrier plugin %s (%s) failed to load; skipped", ep.name, ep.value)
            continue
        if not _is_adapter_class(obj):
            logger.error("carrier plugin %s (%s) is not a CarrierAdapter subclass with a code; skipped", ep.name, ep.value)
            continue
        if obj.code != ep.name:
            logger.warning("carrier plugin entry point %r loads adapter code %r; using %r", ep.name, obj.code, obj.code)
        found.append((source, obj))
    return found


@lru_cache(maxsize=1)
def _registry() -> dict[str, _Registered]:
    registry: dict[str, _Registered] = {}
    candidates: list[tuple[str, type[CarrierAdapter]]] = []
    for module_path in BUILTIN_MODULES:
        cls = _load_builtin(module_path)
        if cls is not None:
            candidates.append(("builtin", cls))
    candidates.extend(sorted(_iter_plugins(), key=lambda item: item[1].code))
    for source, cls in candidates:
        problems = _problems(cls)
        if problems:
            logger.error("carrier adapter %s.%s unusable (%s); skipped", cls.__module__, cls.__qualname__, "; ".join(problems))
            continue
        if cls.code in registry:
            if registry[cls.code].adapter_class is not cls:
                logger.error(
                    "carrier code %r from %s already registered by %s; skipped", cls.code, source, registry[cls.code].source
                )
            continue
        registry[cls.code] = _Registered(adapter_class=cls, source=source)
    return registry


def refresh() -> None:
    """Forget the discovered adapters; the next lookup imports and reads entry points again."""
    _registry.cache_clear()


def get_adapter_class(code: str) -> type[CarrierAdapter]:
    """The adapter class registered under `code` ("dhl", ...); raises UnknownCarrier(code, known)."""
    registry = _registry()
    try:
        return registry[code].adapter_class
    except KeyError:
        raise UnknownCarrier(code, sorted(registry)) from None


def all_adapter_classes() -> list[type[CarrierAdapter]]:
    """Every registered adapter class: built-ins in `BUILTIN_MODULES` order, then plugins by code."""
    return [entry.adapter_class for entry in _registry().values()]


def describe() -> list[dict[str, Any]]:
    """What GET /v1/carriers publishes, one dict per carrier.

    Keys: code, name, capabilities (list of operation names), max_batch_size
    (tracking numbers per carrier request), credentials_schema (JSON Schema of
    the credentials model), source ("builtin" or "plugin:<module:attr>"),
    webhook_auth_scheme ("secret-header" or "standard-webhooks": how inbound
    pushes are authenticated) and webhook_auth_header (the header that must
    carry the webhook secret, None for Standard Webhooks) and services (what
    `create_shipment` books: code, name, domestic, international,
    requires_customs, notes; empty for a carrier that does not book).
    """
    return [
        {
            "code": entry.adapter_class.code,
            "name": entry.adapter_class.name,
            "capabilities": entry.adapter_class.capabilities(),
            "max_batch_size": entry.adapter_class.max_batch_size,
            "credentials_schema": entry.adapter_class.credentials_model.model_json_schema(),
            "source": entry.source,
            "webhook_auth_scheme": entry.adapter_class.webhook_auth_scheme(),
            "webhook_auth_header": entry.adapter_class.webhook_auth_header,
            "services": [service.as_dict() for service in entry.adapter_class.services],
        }
        for entry in _registry().values()
    ]


def create_adapter(
    code: str,
    *,
    credentials: dict[str, Any],
    environment: Environment,
    settings: Settings | None = None,
    http: CarrierHttp | None = None,
) -> CarrierAdapter:
    """An adapter bound to one integration.

    `credentials` is validated against the adapter's `credentials_model`
    (pydantic.ValidationError propagates). The base URL is
    `settings.carrier_base_url_override(code)` (`<CARRIER>_BASE_URL`) when set,
    else the adapter's sandbox or production default for `environment`.
    `http` defaults to the process-wide `CarrierHttp`.

    Raises UnknownCarrier, pydantic.ValidationError, ValueError (bad environment).
    """
    if environment not in ("sandbox", "production"):
        raise ValueError(f"environment must be 'sandbox' or 'production', not {environment!r}")
    cls = get_adapter_class(code)
    validated = cls.credentials_model.model_validate(credentials)
    settings = settings or get_settings()
    override = getattr(settings, "carrier_base_url_override", None)
    base_url = override(code) if callable(override) else None
    if not base_url:
        base_url = cls.sandbox_base_url if environment == "sandbox" else cls.production_base_url
    if http is None:
        from app.carriers.http import get_carrier_http

        http = get_carrier_http()
    return cls(credentials=validated, http=http, environment=environment, base_url=base_url)
