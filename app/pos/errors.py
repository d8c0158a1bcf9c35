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


class ConnectionNotFound(NotFound):
    """The connection id in the path names no live POS connection of this tenant."""


class ConnectionExists(Problem):
    """The tenant already has a live connection of this source with this name."""

    status = 409
    type_ = "connection-exists"
    title = "Connection exists"


class ConnectionIsDefault(Problem):
    """The implicit default connection of a source (API-key ingests) cannot be changed, rotated or deleted."""

    status = 409
    type_ = "connection-is-default"
    title = "Default connection"


class UnknownConnection(Problem):
    """A `connection_id` in the body names no live POS connection of this tenant."""

    status = 422
    type_ = "connection-not-found"
    title = "Connection not found"


class PushSignatureInvalid(Problem):
    """A platform push is not signed by its connection's signing secret (or the header is missing); nothing was stored."""

    status = 401
    type_ = "push-signature-invalid"
    title = "Push signature invalid"


class PushPayloadInvalid(Problem):
    """A verified platform push that carries no delivery id or no order this server can read; nothing was stored."""

    status = 400
    type_ = "push-payload-invalid"
    title = "Push payload invalid"


class PushNotSupported(Problem):
    """Pushes to this connection's source cannot be verified (Lightspeed): use the API-key ingest instead."""

    status = 400
    type_ = "push-not-supported"
    title = "Push not supported"


class PlatformUnavailable(Problem):
    """The platform could not be asked for the order a push names (Square RetrieveOrder failed); retry later."""

    status = 502
    type_ = "platform-unavailable"
    title = "Platform unavailable"
