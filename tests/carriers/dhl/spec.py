"""DHL's own documents for the request bodies we build (schema checks: `tests.carriers.helpers.spec_errors`).

* `parcel_de_spec()`: `openapi-parcel-de-shipping-v2.yaml`; bodies are checked with
  `spec_errors(parcel_de_spec(), "ShipmentOrderRequest", body)`;
* `parcel_de_query_enum(name)`: the enum of a query parameter of `POST /orders`;
* `key_paths(obj)` (from `tests.carriers.helpers`): every key path of a JSON value ("content.packages[].weight"),
  to compare our MyDHL body with the `mydhl-shipment-request-spec-example-*.json` samples.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from tests.carriers.helpers import key_paths, load_spec, query_parameters

__all__ = ["key_paths", "parcel_de_query_enum", "parcel_de_spec"]


@lru_cache(maxsize=1)
def parcel_de_spec() -> dict[str, Any]:
    """The Parcel DE Shipping v2 OpenAPI document (cached: do not change it)."""
    return load_spec("dhl", "openapi-parcel-de-shipping-v2.yaml")


def parcel_de_query_enum(parameter: str) -> list[str]:
    """The enum of a query parameter of `POST /orders` (docFormat, printFormat, includeDocs)."""
    return list(query_parameters(parcel_de_spec(), "/orders", "post")[parameter]["schema"]["enum"])
