"""Reading JSON request bodies: orjson for speed, the standard library for what orjson refuses but JSON allows."""

from __future__ import annotations

import json
from typing import Any

import orjson


def _refuse_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def loads(body: bytes | str) -> tuple[Any, bool]:
    """(value, strict) of a JSON document; raises json.JSONDecodeError (a ValueError) when it is not JSON.

    `strict` is True when orjson read it: UTF-8 JSON with 64-bit integers and
    valid Unicode, which PostgreSQL's jsonb stores as received. Otherwise the
    standard library reads what JSON's grammar allows beyond that (integers
    beyond 64 bits, lone surrogate escapes, a byte order mark, UTF-16).
    NaN and Infinity are refused: they are not JSON, and jsonb cannot store them.
    Also raises UnicodeDecodeError or RecursionError for undecodable or too deeply nested input.
    """
    try:
        return orjson.loads(body), True
    except orjson.JSONDecodeError:
        return json.loads(body, parse_constant=_refuse_constant), False
