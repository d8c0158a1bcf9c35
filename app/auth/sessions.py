"""Console sessions: a browser signs in with an API key once and then holds only a random session id.

The session id (32 random bytes, urlsafe) is the value of an HttpOnly cookie;
the database keeps its SHA-256 (`console_sessions`, migration 0013) and the id
of the key it was opened with, never the key. Every function goes through the
SECURITY DEFINER functions of that migration, in the caller's transaction,
before any tenant scope is set. A session resolves to the same `Principal` an
API request with its key would get, so revoking or expiring the key ends its
sessions at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from app.api.principal import Principal, hash_key, key_prefix_of, principal_of_row
from app.core.db.session import driver_connection

SESSION_ID_BYTES = 32

_OPEN_SQL = "SELECT * FROM console_session_open($1, $2, $3)"
_RESOLVE_SQL = "SELECT * FROM console_session_resolve($1, $2)"
_CLOSE_SQL = "SELECT console_session_close($1)"


def session_hash(session_id: str) -> str:
    """SHA-256 hex digest (64 chars) of a session id: what the table stores."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def csrf_token(session_id: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 of a fixed label under the session id (hex).

    Derived, so nothing more is stored; only a holder of the session cookie's
    value (the server, the browser's cookie jar) can compute it, and a page
    from another origin cannot read it.
    """
    return hmac.new(session_id.encode("utf-8"), b"courier-hub console csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_id: str, token: str | None) -> bool:
    """Whether `token` is the session's CSRF token (constant-time comparison)."""
    return bool(token) and hmac.compare_digest(csrf_token(session_id), token or "")


async def open_session(*, session: AsyncSession, api_key: str, max_seconds: int) -> tuple[str, Principal] | None:
    """Open a console session for `api_key`: (the new session id, the key's principal), or None for an
    invalid, revoked or expired key. The session ends `max_seconds` after it opens at the latest."""
    if len(api_key) > 200:
        return None
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    conn = await driver_connection(session)
    row = await conn.fetchrow(_OPEN_SQL, session_hash(session_id), hash_key(api_key), max_seconds)
    if row is None:
        return None
    return session_id, principal_of_row(row, key_prefix=key_prefix_of(api_key))


async def resolve_session(*, session: AsyncSession, session_id: str, idle_seconds: int) -> Principal | None:
    """The principal of a live session (seen within `idle_seconds`, not expired, key still valid), stamped as seen
    now; None otherwise."""
    if not session_id or len(session_id) > 100:
        return None
    conn = await driver_connection(session)
    row = await conn.fetchrow(_RESOLVE_SQL, session_hash(session_id), idle_seconds)
    return principal_of_row(row) if row is not None else None


async def close_session(*, session: AsyncSession, session_id: str) -> None:
    """End a session (sign out); unknown ids are ignored."""
    if not session_id or len(session_id) > 100:
        return
    conn = await driver_connection(session)
    await conn.execute(_CLOSE_SQL, session_hash(session_id))
