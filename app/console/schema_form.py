"""An HTML form generated from a carrier's credentials JSON Schema (GET /v1/carriers' `credentials_schema`), and back.

Handles what the carriers' schemas use (pydantic's JSON Schema output):
string / integer / number / boolean properties, `enum` (a select),
`format: password` or `writeOnly` (a password input, never pre-filled),
optional values (`anyOf [X, null]`) and nested objects through `$ref` (a
fieldset whose inputs are named `<group>.<field>`; left out when all empty).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SchemaField:
    """One input of the generated form (`kind`: text, password, number, checkbox, select, group)."""

    name: str
    title: str
    kind: str
    required: bool
    description: str = ""
    options: list[str] = field(default_factory=list)
    default: Any = None
    children: list[SchemaField] = field(default_factory=list)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """`node` with `$ref` followed and `anyOf [X, null]` unwrapped; and whether null is allowed."""
    nullable = False
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(node["anyOf"])
        node = {**{k: v for k, v in node.items() if k != "anyOf"}, **(options[0] if options else {})}
    if "$ref" in node:
        target = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k not in ("$ref",)}}
    return node, nullable


def fields_of(schema: dict[str, Any], root: dict[str, Any] | None = None, prefix: str = "") -> list[SchemaField]:
    """The form's fields for an object schema, in the schema's property order."""
    root = root or schema
    required = set(schema.get("required", []))
    out: list[SchemaField] = []
    for name, raw in schema.get("properties", {}).items():
        node, nullable = _resolve(raw, root)
        full = f"{prefix}{name}"
        title = raw.get("title") or node.get("title") or name.replace("_", " ").title()
        description = raw.get("description") or node.get("description") or ""
        is_required = name in required and not nullable
        kind = node.get("type", "string")
        if kind == "object" or "properties" in node:
            out.append(SchemaField(full, node.get("title") or title, "group", is_required, description,
                                   children=fields_of(node, root, prefix=f"{full}.")))
        elif "enum" in node:
            out.append(SchemaField(full, title, "select", is_required, description, [str(v) for v in node["enum"]], raw.get("default")))
        elif kind == "boolean":
            out.append(SchemaField(full, title, "checkbox", is_required, description, default=raw.get("default")))
        elif kind in ("integer", "number"):
            out.append(SchemaField(full, title, "number", is_required, description, default=raw.get("default")))
        else:
            secret = node.get("format") == "password" or node.get("writeOnly", False)
            out.append(SchemaField(full, title, "password" if secret else "text", is_required, description, default=raw.get("default")))
    return out


def values_of(fields: list[SchemaField], form: dict[str, str]) -> dict[str, Any]:
    """The credentials object of the submitted `form` (empty optional inputs left out, numbers and booleans typed).

    Values the schema refuses are passed on as typed, for the integration service's validation to report.
    """
    values: dict[str, Any] = {}
    for f in fields:
        key = f.name.rsplit(".", 1)[-1]
        if f.kind == "group":
            nested = values_of(f.children, form)
            if nested or f.required:
                values[key] = nested
            continue
        if f.kind == "checkbox":
            values[key] = form.get(f.name) == "on"
            continue
        text = (form.get(f.name) or "").strip()
        if not text:
            continue
        if f.kind == "number":
            try:
                values[key] = int(text) if text.lstrip("-").isdigit() else float(text)
            except ValueError:
                values[key] = text
        else:
            values[key] = text
    return values
