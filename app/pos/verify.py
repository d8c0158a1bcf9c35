"""Authenticity of platform pushes: each platform's own signature, checked exactly as it documents it.

All are HMAC-SHA256 (stdlib `hmac`), compared in constant time
(`hmac.compare_digest`), over the raw request bytes:

* Shopify: `X-Shopify-Hmac-Sha256` = base64(HMAC(app client secret, body))
  (shopify.dev, "Verify webhook deliveries");
* WooCommerce: `X-WC-Webhook-Signature` = base64(HMAC(webhook secret, body))
  (woocommerce `includes/class-wc-webhook.php::generate_signature`, the secret
  passed through `wp_specialchars_decode(…, ENT_QUOTES)`);
* Square: `x-square-hmacsha256-signature` = base64(HMAC(signature key,
  notification URL + body)), the URL byte for byte as subscribed
  (developer.squareup.com/docs/webhooks/step3validate; square-ruby-sdk
  `webhooks_helper.rb`);
* Zettle: `X-iZettle-Signature` = hex(HMAC(signingKey, "<timestamp>.<payload>"))
  with the envelope's `timestamp` and `payload` string fields
  (iZettle/api-documentation, pusher-api/user-guides/create-subscriptions.md, step 4);
* generic: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
  `webhook-signature`) with a `whsec_` secret, as our own outbound webhooks.

Lightspeed publishes no verified push signature, so its connections take
orders only through the API-key ingest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.core import jsonio
from app.core.problems import PayloadTooDeep

SIGNATURE_HEADERS = {
    "shopify": "x-shopify-hmac-sha256",
    "woocommerce": "x-wc-webhook-signature",
    "square": "x-square-hmacsha256-signature",
    "zettle": "x-izettle-signature",
    "generic": "webhook-signature",
}
"""The header that carries each platform's signature (lower-case)."""

PUSH_SOURCES = frozenset(SIGNATURE_HEADERS)
"""Sources whose connections accept signed pushes."""

_WP_SPECIALCHARS = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#039;", "'"), ("&#39;", "'"), ("&amp;", "&"))


class SignatureInvalid(Exception):
    """The push is not signed by the connection's secret; `reason` says what failed (never the secret)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class ZettleEnvelope:
    """What a Zettle push is signed over: its `timestamp` and `payload` strings (None for the TestMessage)."""

    timestamp: str | None
    payload: str | None


def _b64_hmac(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()).decode("ascii")


def _wp_specialchars_decode(secret: str) -> str:
    for entity, char in _WP_SPECIALCHARS:
        secret = secret.replace(entity, char)
    return secret


def zettle_envelope(body: bytes) -> ZettleEnvelope:
    """The signed fields of a Zettle push; both None when the body is not such an envelope (TestMessage)."""
    try:
        document: Any = jsonio.loads(body)[0]
    except (ValueError, PayloadTooDeep):  # not JSON (UnicodeDecodeError is a ValueError too): nothing signed
        return ZettleEnvelope(None, None)
    if not isinstance(document, dict):
        return ZettleEnvelope(None, None)
    timestamp, payload = document.get("timestamp"), document.get("payload")
    return ZettleEnvelope(
        timestamp if isinstance(timestamp, str) else None, payload if isinstance(payload, str) else None
    )


def signature_matches(
    source: str, *, secret: str, headers: Mapping[str, str], body: bytes, notification_url: str | None = None
) -> bool:
    """Whether `body` (raw bytes) with `headers` (lower-case names) is signed with `secret` as `source` documents.

    Raises SignatureInvalid when the signature cannot be checked at all
    (missing header, an unsigned source).
    """
    header = SIGNATURE_HEADERS.get(source)
    if header is None:
        raise SignatureInvalid(f"{source} pushes carry no signature this server can verify")
    given = (headers.get(header) or "").strip()
    if not given:
        raise SignatureInvalid(f"the {header} header is missing")
    if source == "shopify":
        return hmac.compare_digest(_b64_hmac(secret, body).encode(), given.encode())
    if source == "woocommerce":
        return hmac.compare_digest(_b64_hmac(_wp_specialchars_decode(secret), body).encode(), given.encode())
    if source == "square":
        if not notification_url:
            raise SignatureInvalid("the connection has no notification URL to check Square's signature with")
        return hmac.compare_digest(_b64_hmac(secret, notification_url.encode("utf-8") + body).encode(), given.encode())
    if source == "zettle":
        envelope = zettle_envelope(body)
        if envelope.timestamp is None or envelope.payload is None:
            raise SignatureInvalid("the body has no signed timestamp and payload")
        message = f"{envelope.timestamp}.{envelope.payload}".encode()
        expected = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), given.lower().encode())
    try:  # generic: Standard Webhooks
        Webhook(secret).verify(body, dict(headers))
    except (WebhookVerificationError, ValueError, TypeError):
        return False
    return True


def verify(
    source: str, *, secrets: Sequence[str], headers: Mapping[str, str], body: bytes, notification_url: str | None = None
) -> None:
    """Accept the push if any of `secrets` (current first, then the previous one during a rotation) signed it.

    Raises SignatureInvalid otherwise.
    """
    if not secrets:
        raise SignatureInvalid("the connection has no signing secret")
    for secret in secrets:
        if signature_matches(source, secret=secret, headers=headers, body=body, notification_url=notification_url):
            return
    raise SignatureInvalid("no signature matches the connection's signing secret")
