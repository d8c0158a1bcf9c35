"""Checking the request bodies we build against DHL's own documents (jsonschema is not installed).

* `parcel_de_problems(body)`: the body against the `ShipmentOrderRequest`
  schema of `openapi-parcel-de-shipping-v2.yaml` (properties, required,
  enums, lengths, patterns, types, oneOf/allOf) — a small subset of JSON
  Schema, enough to catch invented field names and missing required fields;
* `key_paths(obj)`: every key path of a JSON value ("content.packages[].weight"),
  to compare our MyDHL body with the `mydhl-shipment-request-spec-example-*.json` samples.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from tests.carriers.helpers import load_yaml_12, sample_path

_TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


@lru_cache(maxsize=1)
def _parcel_de_spec() -> dict[str, Any]:
    return load_yaml_12(sample_path("dhl", "openapi-parcel-de-shipping-v2.yaml").read_text(encoding="utf-8"))


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def schema_problems(value: Any, schema: dict[str, Any], schemas: dict[str, Any], path: str = "") -> list[str]:
    """What in `value` breaks `schema` (empty list: conforms)."""
    schema = _resolve(schema, schemas)
    problems: list[str] = []
    if "oneOf" in schema:
        options = [schema_problems(value, option, schemas, path) for option in schema["oneOf"]]
        if not any(not found for found in options):
            problems.append(f"{path or '<root>'}: matches none of oneOf ({min(options, key=len)})")
    for part in schema.get("allOf", []):
        problems.extend(schema_problems(value, part, schemas, path))
    kind = schema.get("type")
    if kind and kind in _TYPES:
        expected = _TYPES[kind]
        if not isinstance(value, expected) or (kind in ("integer", "number") and isinstance(value, bool)):
            return [*problems, f"{path}: {value!r} is not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} not in enum")
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{path}: longer than {schema['maxLength']}")
        if "minLength" in schema and len(value) < schema["minLength"]:
            problems.append(f"{path}: shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path}: above {schema['maximum']}")
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path}: below {schema['minimum']}")
    if isinstance(value, dict) and "properties" in schema:
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{path}.{name}: required")
        for name, item in value.items():
            if name not in schema["properties"]:
                problems.append(f"{path}.{name}: not a property of the schema")
            else:
                problems.extend(schema_problems(item, schema["properties"][name], schemas, f"{path}.{name}"))
    if isinstance(value, list) and "items" in schema:
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{path}: more than {schema['maxItems']} items")
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"{path}: fewer than {schema['minItems']} items")
        for index, item in enumerate(value):
            problems.extend(schema_problems(item, schema["items"], schemas, f"{path}[{index}]"))
    return problems


def parcel_de_problems(body: Any) -> list[str]:
    """`body` against the spec's `ShipmentOrderRequest`."""
    schemas = _parcel_de_spec()["components"]["schemas"]
    return schema_problems(body, schemas["ShipmentOrderRequest"], schemas)


def parcel_de_query_enum(parameter: str) -> list[str]:
    """The enum of a query parameter of `POST /orders` (docFormat, printFormat, includeDocs)."""
    post = _parcel_de_spec()["paths"]["/orders"]["post"]
    [found] = [p for p in post["parameters"] if p.get("name") == parameter]
    return list(found["schema"]["enum"])


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path in a JSON value, list positions written as `[]`."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            paths |= key_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            paths |= key_paths(item, prefix + "[]")
    return paths
