"""Problems of outbound webhooks: endpoints, deliveries, replay (app/webhooks)."""

from __future__ import annotations

from app.core.problems import NotFound, Problem


class WebhookEndpointNotFound(NotFound):
    """The webhook endpoint id in the path names no endpoint of this tenant."""


class DeliveryNotFound(NotFound):
    """The delivery id in the path names no webhook delivery of this tenant."""


class InvalidWebhookUrl(Problem):
    """The endpoint URL cannot be used (not https, private or loopback address, credentials in it...); member `reason`."""

    status = 422
    type_ = "invalid-webhook-url"
    title = "Invalid webhook URL"


class EndpointDisabled(Problem):
    """The webhook endpoint is disabled (member `disabled_reason`); enable it with PATCH first."""

    status = 409
    type_ = "endpoint-disabled"
    title = "Endpoint disabled"


class InvalidReplayWindow(Problem):
    """The replay window is empty or in the future (`since` must be in the past, `until` after it)."""

    status = 422
    type_ = "invalid-replay-window"
    title = "Invalid replay window"
