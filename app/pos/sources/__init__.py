"""POS order mappers by source name: one module per platform, each a pure function.

A mapper takes the parsed JSON body and the request headers (names
lower-cased) and returns a `CanonicalOrder`, or raises `PayloadError` saying
why the body cannot be mapped. Mappers never touch the database or network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from app.pos.canonical import CanonicalOrder
from app.pos.sources import generic, lightspeed, shopify, square, woocommerce, zettle


class Mapper(Protocol):
    """``(payload, headers) -> CanonicalOrder``; raises PayloadError for unmappable input."""

    def __call__(self, payload: Any, headers: Mapping[str, str]) -> CanonicalOrder: ...


class UnknownSource(LookupError):
    """No mapper is registered under `source`; `known` lists the valid names (-> 404/422)."""

    def __init__(self, source: str, known: list[str]) -> None:
        self.source = source
        self.known = known
        super().__init__(f"unknown POS source {source!r}; known sources: {', '.join(known)}")


MAPPERS: dict[str, Mapper] = {
    "generic": generic.map_order,
    "lightspeed": lightspeed.map_order,
    "shopify": shopify.map_order,
    "square": square.map_order,
    "woocommerce": woocommerce.map_order,
    "zettle": zettle.map_order,
}


def known_sources() -> list[str]:
    """The registered source names, sorted."""
    return sorted(MAPPERS)


def get_mapper(source: str) -> Mapper:
    """The mapper for `source` (exact, lower-case name); raises UnknownSource otherwise."""
    try:
        return MAPPERS[source]
    except (KeyError, TypeError):
        raise UnknownSource(str(source), known_sources()) from None


__all__ = ["MAPPERS", "Mapper", "UnknownSource", "get_mapper", "known_sources"]
