"""Helpers shared by the courier adapter tests: carrier samples, UTC times, token endpoints, event rows.

The samples are the carrier-published files in `../shared/carrier-samples/<carrier>/`
next to the repository (each with a `.source.txt` naming the carrier document
it comes from); a test that needs a missing sample is skipped, not failed.

Request bodies (and replies we build) are checked against the carriers' own
OpenAPI 3 / Swagger 2 documents with `spec_errors` (jsonschema; `load_spec`
reads a document, `query_parameters` an operation's query parameters).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from operator import attrgetter
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.carriers.types import TrackingResult

SAMPLES_ROOT = Path(__file__).resolve().parents[3] / "shared" / "carrier-samples"


def sample_path(carrier: str, name: str) -> Path:
    """The path of one carrier sample; skips the test when the shared samples are not checked out."""
    path = SAMPLES_ROOT / carrier / name
    if not path.is_file():
        pytest.skip(f"{carrier} sample {path} missing (expected ../shared/carrier-samples next to the repo)")
    return path


def load_json_sample(carrier: str, name: str) -> Any:
    """One carrier sample parsed as JSON (see `sample_path`)."""
    return json.loads(sample_path(carrier, name).read_text(encoding="utf-8"))


def utc(text: str) -> datetime:
    """An ISO 8601 wall-clock time read as UTC ("2024-08-20T16:41:57")."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


class SleepRecorder:
    """Stands in for asyncio.sleep in CarrierHttp: records each wait tenacity computed, sleeps 0 s."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def numbered_tokens(**fields: Any) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect for an OAuth token endpoint: replies carry access tokens tok-1, tok-2, ...

    `fields` are the other members of each reply (token_type, expires_in, ...).
    """
    issued = 0

    def respond(request: httpx.Request) -> httpx.Response:
        nonlocal issued
        issued += 1
        return httpx.Response(200, json={"access_token": f"tok-{issued}", **fields})

    return respond


EVENT_COLUMNS: tuple[str, ...] = (
    "occurred_at",
    "status",
    "carrier_code",
    "description",
    "location.city",
    "location.postal_code",
    "location.country",
)


def event_rows(result: TrackingResult, columns: Sequence[str] = EVENT_COLUMNS) -> list[tuple[Any, ...]]:
    """The events of `result` as tuples of the given (dotted) attributes, oldest first."""
    getters = [attrgetter(column) for column in columns]
    return [tuple(get(event) for get in getters) for event in result.events]


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path in a JSON value, list positions written as `[]` ("content.packages[].weight"): to compare
    a body we build with a carrier's documented example member by member."""
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


def load_yaml_12(text: str) -> Any:
    """PyYAML with YAML 1.2 integers: "021" stays a string instead of becoming octal 17."""
    yaml = pytest.importorskip("yaml")

    class Yaml12Loader(yaml.SafeLoader):
        pass

    Yaml12Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:int"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Yaml12Loader.add_implicit_resolver(
        "tag:yaml.org,2002:int", re.compile(r"^[-+]?(0|[1-9][0-9]*)$"), list("-+0123456789")
    )
    return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 - SafeLoader subclass


# ---------------------------------------------------------------- carrier specs (OpenAPI 3 / Swagger 2) and jsonschema

SPEC_URI = "urn:courier-hub:carrier-spec"
"""The URI the spec document is registered under: `#/components/schemas/X` and `#/definitions/X` resolve inside it."""

_ANNOTATIONS = ("example", "examples", "xml", "discriminator", "externalDocs")


def load_spec(carrier: str, name: str) -> Any:
    """A carrier's OpenAPI/Swagger file: JSON, or YAML read as YAML 1.2 (OpenAPI's YAML; "021" stays a string).

    TABs are replaced by two spaces before parsing YAML: UPS's published files carry TAB characters
    in descriptions (see their .source.txt), which YAML does not allow there.
    """
    text = sample_path(carrier, name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else load_yaml_12(text.replace("\t", "  "))


def query_parameters(spec: dict[str, Any], path: str, method: str = "get") -> dict[str, dict[str, Any]]:
    """The query parameters of one operation of `spec`, by name."""
    operation = spec["paths"][path][method]
    return {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "query"}


def spec_errors(spec: dict[str, Any], schema: dict[str, Any] | str, value: Any) -> list[str]:
    """What in `value` breaks `schema` of the carrier's OpenAPI 3 / Swagger 2 document `spec`; [] when it conforms.

    `schema` is a named schema ("ShipmentRequest": looked up in `components.schemas` or `definitions`)
    or a schema object whose `$ref`s point into `spec` (`{"$ref": "#/components/schemas/ResponseDto"}`).
    Validation is jsonschema's (Draft 2020-12) against the spec's own schemas; `$ref`s resolve through a
    `referencing.Registry` holding the spec document. One line per error: "<JSON path>: <message>".

    The spec's schemas are OpenAPI Schema Objects, not pure JSON Schema; what the carriers' files use is
    translated first (`_json_schema`):

    * objects are closed: a schema that lists `properties` (or composes them with `allOf`) rejects any
      other member (`unevaluatedProperties: false`), unless it says `additionalProperties` itself. OpenAPI
      leaves objects open, but what we test is that we send no field the carrier does not document.
      An object schema without `properties` (a free-form map) stays open;
    * `allOf` composes: its parts are checked open and the whole closed, so members declared in one part
      are not unknown to another (a `$ref` part is expanded in place, once, for that);
    * `nullable: true` (OpenAPI 3.0) adds "null" to the type (and to `enum`);
    * boolean `exclusiveMinimum`/`exclusiveMaximum` (OpenAPI 3.0, Swagger 2: "the `minimum` is exclusive")
      become JSON Schema's numeric bounds;
    * siblings of a `$ref` are dropped (OpenAPI 3.0 and Swagger 2 ignore them; the files give descriptions);
    * `example`, `xml`, `discriminator`, `externalDocs` are dropped (annotations; a `discriminator` only
      names the `oneOf` branch, which jsonschema finds by validating each);
    * `format` is not checked (FedEx and PostNord write formats such as "Date", "HH:MM:SS", "integer"
      that are not JSON Schema formats; jsonschema only annotates formats unless asked to check them).
    """
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    document = _json_schema_document(spec)
    registry: Registry = Registry().with_resource(
        SPEC_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    if isinstance(schema, str):
        schema = {"$ref": f"#/definitions/{schema}" if "definitions" in spec else f"#/components/schemas/{schema}"}
    root = _json_schema(schema, spec, top=True)
    validator = Draft202012Validator(root, registry=registry)
    errors = sorted(validator.iter_errors(value), key=lambda error: (list(map(str, error.absolute_path)), error.message))
    return [f"{error.json_path}: {error.message}" for error in errors]


def _json_schema_document(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with every named schema translated by `_json_schema` (the rest of the document as it is)."""
    document = dict(spec)
    if "definitions" in spec:
        document["definitions"] = {name: _json_schema(s, spec) for name, s in spec["definitions"].items()}
    if "schemas" in spec.get("components", {}):
        document["components"] = dict(spec["components"])
        document["components"]["schemas"] = {name: _json_schema(s, spec) for name, s in spec["components"]["schemas"].items()}
    return document


def _resolve_local(spec: dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _json_schema(schema: Any, spec: dict[str, Any], *, top: bool = True) -> Any:
    """One OpenAPI Schema Object as JSON Schema 2020-12 (see `spec_errors`); `top=False`: an `allOf` part, left open."""
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        ref = schema["$ref"]
        return {"$ref": SPEC_URI + ref if ref.startswith("#") else ref}
    out = {key: value for key, value in schema.items() if key not in _ANNOTATIONS and key != "nullable"}
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {name: _json_schema(s, spec) for name, s in schema["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            out[key] = _json_schema(schema[key], spec)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            out[key] = [_json_schema(s, spec) for s in schema[key]]
    composed = "allOf" in schema and (len(schema["allOf"]) > 1 or "properties" in schema)
    if "allOf" in schema:
        parts = [_resolve_local(spec, s["$ref"]) if composed and "$ref" in s else s for s in schema["allOf"]]
        out["allOf"] = [_json_schema(s, spec, top=not composed) for s in parts]
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(schema.get(bound), bool):
            if schema[bound] and inclusive in schema:
                out[bound] = out.pop(inclusive)
            else:
                del out[bound]
    if schema.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    declares = "properties" in schema or (composed and any(isinstance(p, dict) and "properties" in p for p in out["allOf"]))
    if top and declares and "additionalProperties" not in schema and "unevaluatedProperties" not in schema:
        out["unevaluatedProperties"] = False
    return out
