"""Problems of shipments, tracking and inbound carrier pushes (app/shipments).

The carrier-side problems (unknown carrier, push signature and payload,
carrier call failures) are in app.integrations.errors, next to the carrier
errors they are mapped from.
"""

from __future__ import annotations

from app.core.problems import NotFound, Problem


class ShipmentNotFound(NotFound):
    """The shipment id in the path names no shipment of this tenant."""


class UnknownOrder(Problem):
    """The `order_id` of the request names no order of this tenant (GET /v1/pos/orders)."""

    status = 422
    type_ = "order-not-found"
    title = "Unknown order"


class InboundIntegrationNotFound(NotFound):
    """The integration id in the push URL names no active integration of this carrier."""


class InboundWebhookNotFound(NotFound):
    """The id in the path names no received push of this tenant."""


class UnsupportedPushMediaType(Problem):
    """A carrier push whose Content-Type is not JSON (forms, multipart, XML...)."""

    status = 415
    type_ = "unsupported-media-type"
    title = "Unsupported Media Type"


class WebhookSecretUndecryptable(Problem):
    """The integration's webhook secret cannot be decrypted with the server's keys (operator error)."""

    status = 500
    type_ = "webhook-secret-undecryptable"
    title = "Webhook secret undecryptable"
