"""Recipient review links: a signed, expiring token that lets the recipient review one delivery, once.

Token: `<payload>.<signature>`, both base64url without padding; the payload is
`<tenant id hex>.<link id hex>.<expiry, Unix seconds>` and the signature its
HMAC-SHA256 under REVIEW_LINK_SECRET (stdlib `hmac`, compared in constant
time). The token says which tenant to scope the transaction to before any row
is read; the `review_links` row makes it single-use (`used_at`, set by the
same UPDATE that checks it) and lets the server refuse it after `expires_at`.
Without REVIEW_LINK_SECRET (development only: production refuses to start) a
random per-process key is used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.errors import ReviewLinkExpired, ReviewLinkInvalid
from app.analytics.models import ReviewLink
from app.core.config import Settings
from app.core.db.base import new_id, utcnow

_DEVELOPMENT_KEY = secrets.token_bytes(32)
MAX_TOKEN_LENGTH = 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(settings: Settings) -> bytes:
    secret = settings.review_link_secret
    return secret.get_secret_value().encode("utf-8") if secret is not None else _DEVELOPMENT_KEY


def sign(*, settings: Settings, tenant_id: uuid.UUID, link_id: uuid.UUID, expires_at: datetime) -> str:
    """The token of one link (see the module docstring)."""
    payload = f"{tenant_id.hex}.{link_id.hex}.{int(expires_at.timestamp())}".encode()
    signature = hmac.new(_key(settings), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


@dataclass(frozen=True)
class LinkClaim:
    """What a verified token says: the tenant, the link and its expiry."""

    tenant_id: uuid.UUID
    link_id: uuid.UUID
    expires_at: datetime


def verify(*, settings: Settings, token: str, now: datetime | None = None) -> LinkClaim:
    """Check a token's signature and expiry. ReviewLinkInvalid 404 (malformed, forged), ReviewLinkExpired 410."""
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise ValueError("too long")
        encoded_payload, encoded_signature = token.split(".")
        payload, signature = _unb64(encoded_payload), _unb64(encoded_signature)
        expected = hmac.new(_key(settings), payload, hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected):
            raise ValueError("bad signature")
        tenant_hex, link_hex, expiry = payload.decode("ascii").split(".")
        claim = LinkClaim(
            tenant_id=uuid.UUID(hex=tenant_hex),
            link_id=uuid.UUID(hex=link_hex),
            expires_at=datetime.fromtimestamp(int(expiry), tz=timezone.utc),
        )
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ReviewLinkInvalid("This review link is not valid.") from None
    if claim.expires_at <= (now or utcnow()):
        raise ReviewLinkExpired("This review link has expired.")
    return claim


async def create(
    *, session: AsyncSession, settings: Settings, tenant_id: uuid.UUID, shipment_id: uuid.UUID
) -> tuple[str, datetime]:
    """A new link for the shipment, valid REVIEW_LINK_TTL_SECONDS; returns (token, expires_at)."""
    expires_at = (utcnow() + timedelta(seconds=settings.review_link_ttl_seconds)).replace(microsecond=0)
    link = ReviewLink(tenant_id=tenant_id, id=new_id(), shipment_id=shipment_id, expires_at=expires_at)
    session.add(link)
    await session.flush()
    return sign(settings=settings, tenant_id=tenant_id, link_id=link.id, expires_at=expires_at), expires_at


async def consume(*, session: AsyncSession, claim: LinkClaim) -> uuid.UUID:
    """Mark the link used (in the caller's transaction) and return its shipment id.

    ReviewLinkExpired 410 when it was used already or has expired; ReviewLinkInvalid 404 when no such link exists.
    """
    now = utcnow()
    shipment_id = (
        await session.execute(
            update(ReviewLink)
            .where(
                ReviewLink.tenant_id == claim.tenant_id,
                ReviewLink.id == claim.link_id,
                ReviewLink.used_at.is_(None),
                ReviewLink.expires_at > now,
            )
            .values(used_at=now)
            .returning(ReviewLink.shipment_id)
        )
    ).scalar_one_or_none()
    if shipment_id is not None:
        return shipment_id
    exists = await session.get(ReviewLink, (claim.tenant_id, claim.link_id))
    if exists is None:
        raise ReviewLinkInvalid("This review link is not valid.")
    raise ReviewLinkExpired("This review link was already used or has expired: a link takes one review.")


def public_url(*, settings: Settings, token: str) -> str:
    """The link the recipient opens: PUBLIC_BASE_URL + /v1/public/reviews/{token}."""
    return f"{settings.public_base}/v1/public/reviews/{token}"


def token_key(token: str) -> str:
    """A short digest of a token, to count its submissions under without keeping the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]
