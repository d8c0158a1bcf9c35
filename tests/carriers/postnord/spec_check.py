"""Checking JSON we build or read against PostNord's own specs (a small subset of JSON Schema; jsonschema is not installed).

Works on the Swagger 2.0 Booking API (`definitions`) and the OpenAPI 3.0
Service Points V5 (`components.schemas`): property names, required members,
enums, types, string lengths, array sizes. Enough to catch a field name
PostNord does not document or a required field we forgot.
"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


def definitions(spec: dict[str, Any]) -> dict[str, Any]:
    """The named schemas of a Swagger 2.0 or OpenAPI 3 document."""
    return spec.get("definitions") or spec["components"]["schemas"]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = definitions(spec)[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def problems(spec: dict[str, Any], value: Any, schema: dict[str, Any] | str, path: str = "$") -> list[str]:
    """What in `value` breaks `schema` (a schema object or a definition name); [] when it conforms."""
    if isinstance(schema, str):
        schema = {"$ref": f"#/definitions/{schema}"}
    schema = _resolve(spec, schema)
    found: list[str] = []
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    if kind in _TYPES:
        if not isinstance(value, _TYPES[kind]) or (kind in ("integer", "number") and isinstance(value, bool)):
            return [f"{path}: {value!r} is not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not in the enum {schema['enum']}")
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            found.append(f"{path}: longer than {schema['maxLength']}")
        if "minLength" in schema and len(value) < schema["minLength"]:
            found.append(f"{path}: shorter than {schema['minLength']}")
    if isinstance(value, dict) and "properties" in schema:
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{path}.{name}: required")
        for name, member in value.items():
            if name not in schema["properties"]:
                found.append(f"{path}.{name}: not a property of the spec")
            else:
                found.extend(problems(spec, member, schema["properties"][name], f"{path}.{name}"))
    if isinstance(value, list) and "items" in schema:
        if "minItems" in schema and len(value) < schema["minItems"]:
            found.append(f"{path}: fewer than {schema['minItems']} items")
        for index, member in enumerate(value):
            found.extend(problems(spec, member, schema["items"], f"{path}[{index}]"))
    return found


def query_parameters(spec: dict[str, Any], path: str, method: str = "get") -> dict[str, dict[str, Any]]:
    """The query parameters of one operation, by name."""
    operation = spec["paths"][path][method]
    return {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "query"}
