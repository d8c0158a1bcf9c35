"""Reading JSON request bodies: orjson for speed, the standard library for what orjson refuses but JSON allows.

Every JSON body the server reads (API bodies, idempotent requests, inbound
carrier pushes) is limited to MAX_JSON_DEPTH levels of nested objects and
arrays: deeper documents are refused with 422 `payload-too-deep` before
anything is stored, because what is stored must be readable back (orjson
serializes at most 255 levels, Python's json recursion ends near 1,000).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from app.core.problems import PayloadTooDeep

MAX_JSON_DEPTH = 64
"""Most levels of nested objects/arrays a JSON body may have (a top-level object is level 1).

Real orders and carrier pushes nest fewer than 15 levels; 64 leaves room for
that and for the levels a response adds around a stored document.
"""


def _refuse_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def too_deep(limit: int = MAX_JSON_DEPTH) -> PayloadTooDeep:
    """The PayloadTooDeep problem (422 `payload-too-deep`, extension `max_depth`) to raise for a body nested deeper than `limit`."""
    return PayloadTooDeep(f"The JSON body nests objects and arrays deeper than {limit} levels.", max_depth=limit)


def ensure_depth(value: Any, *, limit: int = MAX_JSON_DEPTH) -> None:
    """Check that a parsed JSON `value` (dicts, lists, scalars) nests at most `limit` levels.

    Raises PayloadTooDeep (422 `payload-too-deep`, extension `max_depth`) when it nests deeper.
    Iterative, so any depth is checked without recursion.
    """
    if not isinstance(value, (dict, list)):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > limit:
            raise too_deep(limit)
        for child in container.values() if isinstance(container, dict) else container:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))


def _check_depth(body: bytes | str, value: Any) -> None:
    # Fewer brackets than the limit cannot nest deeper than it: most bodies skip the walk.
    opening = (b"[", b"{") if isinstance(body, bytes) else ("[", "{")
    if body.count(opening[0]) + body.count(opening[1]) > MAX_JSON_DEPTH:  # type: ignore[arg-type]
        ensure_depth(value)


def loads(body: bytes | str) -> tuple[Any, bool]:
    """(value, strict) of a JSON document; raises json.JSONDecodeError (a ValueError) when it is not JSON.

    `strict` is True when orjson read it: UTF-8 JSON with 64-bit integers and
    valid Unicode, which PostgreSQL's jsonb stores as received. Otherwise the
    standard library reads what JSON's grammar allows beyond that (integers
    beyond 64 bits, lone surrogate escapes, a byte order mark, UTF-16).
    NaN and Infinity are refused: they are not JSON, and jsonb cannot store them.
    Raises PayloadTooDeep (not a ValueError) when the document nests deeper
    than MAX_JSON_DEPTH, and UnicodeDecodeError for undecodable input.
    """
    try:
        value, strict = orjson.loads(body), True
    except orjson.JSONDecodeError:
        try:
            value, strict = json.loads(body, parse_constant=_refuse_constant), False
        except RecursionError:
            raise too_deep() from None
    _check_depth(body, value)
    return value, strict
