"""OAuth2 client-credentials tokens for carriers that need them (FedEx, UPS).

Protocol: RFC 6749 §4.4 (client credentials grant). FedEx sends the client id
and secret in the form body (FedEx API Authorization, `POST /oauth/token`);
UPS sends them as HTTP Basic auth (UPS OAuth Client Credentials,
`POST /security/v1/oauth/token`, `expires_in` as a *string*).

Tokens are cached per (token URL, client id, secret fingerprint, extra form)
until `expires_in` minus a safety margin. The secret is part of the key so
that a tenant typing another tenant's client id with a wrong secret never
receives that tenant's cached token. Concurrent callers for the same key
share one token request (one `asyncio.Lock` per key).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from app.carriers.errors import CarrierAuthError, CarrierBadResponse
from app.carriers.http import CarrierHttp, decode_json

logger = logging.getLogger(__name__)

DEFAULT_SAFETY_MARGIN_SECONDS = 60.0
DEFAULT_EXPIRES_IN_SECONDS = 300.0
"""Lifetime assumed when the token response omits `expires_in` (it is only RECOMMENDED)."""

_CacheKey = tuple[str, str, str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class _CachedToken:
    access_token: str
    expires_at: float  # clock() value after which the token is no longer handed out


def _key(token_url: str, client_id: str, client_secret: str, extra_form: Mapping[str, str] | None) -> _CacheKey:
    fingerprint = hashlib.sha256(client_secret.encode("utf-8")).hexdigest()
    extra = tuple(sorted((str(k), str(v)) for k, v in (extra_form or {}).items()))
    return (token_url, client_id, fingerprint, extra)


class OAuthTokenCache:
    """Cache of OAuth2 client-credentials access tokens, refreshed once under concurrency.

    Args:
        safety_margin_seconds: a token is refreshed this many seconds before
            its `expires_in` runs out (at most half its lifetime).
        clock: monotonic time source in seconds (tests inject a fake).
    """

    def __init__(
        self,
        *,
        safety_margin_seconds: float = DEFAULT_SAFETY_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.safety_margin_seconds = safety_margin_seconds
        self.clock = clock
        self._tokens: dict[_CacheKey, _CachedToken] = {}
        self._locks: dict[_CacheKey, asyncio.Lock] = {}

    def _fresh(self, key: _CacheKey) -> str | None:
        cached = self._tokens.get(key)
        if cached is not None and self.clock() < cached.expires_at:
            return cached.access_token
        return None

    async def get_token(
        self,
        http: CarrierHttp,
        *,
        carrier: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        extra_form: Mapping[str, str] | None = None,
        use_basic_auth: bool,
        extra_headers: Mapping[str, str] | None = None,
    ) -> str:
        """A valid access token for these client credentials, from cache or one token request.

        Args:
            http: the shared `CarrierHttp` (retries/timeouts apply to the token call).
            carrier: carrier code for errors/logs.
            token_url: absolute token endpoint URL.
            client_id, client_secret: the integration's OAuth client.
            extra_form: extra form fields besides `grant_type=client_credentials`.
            use_basic_auth: True sends id/secret as HTTP Basic (UPS); False in
                the form body as `client_id`/`client_secret` (FedEx).
            extra_headers: extra request headers (e.g. UPS `x-merchant-id`); not part of the cache key.

        Returns the `access_token` string.

        Raises:
            CarrierAuthError: the token endpoint rejected the credentials (400/401/403).
            CarrierBadResponse: the reply is not JSON or has no `access_token`.
            CarrierRateLimited / CarrierUnavailable: as raised by `CarrierHttp.request`.
        """
        key = _key(token_url, client_id, client_secret, extra_form)
        token = self._fresh(key)
        if token is not None:
            return token
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            token = self._fresh(key)  # another task may have refreshed while we waited
            if token is not None:
                return token
            cached = await self._request_token(
                http,
                carrier=carrier,
                token_url=token_url,
                client_id=client_id,
                client_secret=client_secret,
                extra_form=extra_form,
                use_basic_auth=use_basic_auth,
                extra_headers=extra_headers,
            )
            self._tokens[key] = cached
            return cached.access_token

    async def _request_token(
        self,
        http: CarrierHttp,
        *,
        carrier: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        extra_form: Mapping[str, str] | None,
        use_basic_auth: bool,
        extra_headers: Mapping[str, str] | None,
    ) -> _CachedToken:
        form: dict[str, str] = {"grant_type": "client_credentials", **(extra_form or {})}
        auth: httpx.Auth | None = None
        if use_basic_auth:
            auth = httpx.BasicAuth(client_id, client_secret)
        else:
            form["client_id"] = client_id
            form["client_secret"] = client_secret
        headers = {"Accept": "application/json", **(extra_headers or {})}
        requested_at = self.clock()
        # RFC 6749 §5.2: bad client credentials come back as 400 invalid_client too.
        response = await http.request(
            carrier, "POST", token_url, headers=headers, data=form, auth=auth, ok_statuses=(200, 400), operation="token"
        )
        if response.status_code == 400:
            raise CarrierAuthError(
                carrier, f"token request rejected (HTTP 400): {response.text[:300]}", status_code=400
            )
        body = decode_json(carrier, response)
        access_token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(access_token, str) or not access_token:
            raise CarrierBadResponse(carrier, "token response has no access_token", status_code=response.status_code)
        expires_in = DEFAULT_EXPIRES_IN_SECONDS
        raw_expires = body.get("expires_in")
        if raw_expires is not None:
            try:
                expires_in = float(raw_expires)  # UPS sends a string, FedEx a number
            except (TypeError, ValueError):
                logger.warning("carrier %s: unparseable expires_in %r; assuming %ss", carrier, raw_expires, expires_in)
        margin = min(self.safety_margin_seconds, expires_in / 2)
        logger.info("carrier %s: fetched OAuth token (expires_in=%ss)", carrier, expires_in)
        return _CachedToken(access_token=access_token, expires_at=requested_at + expires_in - margin)

    def invalidate(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str | None = None,
        token: str | None = None,
    ) -> None:
        """Forget cached token(s) after the carrier rejected one with 401.

        With `client_secret`, only that credential's entry is dropped, else every
        entry for (token_url, client_id). With `token`, an entry is dropped only
        if it still holds that token, so N requests failing with the same stale
        token cause one refresh, not N.
        """
        for key in list(self._tokens):
            if key[0] != token_url or key[1] != client_id:
                continue
            if client_secret is not None and key[2] != _key(token_url, client_id, client_secret, None)[2]:
                continue
            if token is not None and self._tokens[key].access_token != token:
                continue
            del self._tokens[key]

    def clear(self) -> None:
        """Forget every cached token (tests, credential rotation)."""
        self._tokens.clear()


default_token_cache = OAuthTokenCache()
"""The process-wide token cache adapters use unless given another."""


def get_token_cache() -> OAuthTokenCache:
    """The process-wide `OAuthTokenCache`."""
    return default_token_cache
