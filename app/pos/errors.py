"""Problems of POS order ingestion (app/pos)."""

from __future__ import annotations

from app.core.problems import NotFound, Problem


class UnknownPosSource(Problem):
    """The POS source in the path is not one this server maps; member `known_sources` lists them.

    Raised for `app.pos.sources.UnknownSource` (the mapper lookup error) at the API.
    """

    status = 404
    type_ = "unknown-source"
    title = "Unknown POS source"


class InvalidOrderPayload(Problem):
    """The body is JSON but not an order of this POS source's format; member `source` names the source."""

    status = 422
    type_ = "invalid-order-payload"
    title = "Invalid order payload"


class OrderNotFound(NotFound):
    """The order id in the path names no order of this tenant."""
