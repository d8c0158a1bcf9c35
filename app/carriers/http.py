"""Outbound HTTP to carrier APIs: one shared client, retries, typed errors.

Every adapter sends its requests through `CarrierHttp.request`, so timeouts,
retries (tenacity: exponential backoff with jitter, `Retry-After` honoured)
and the mapping of carrier failures onto `app.carriers.errors` live here once.

Retry policy (RFC 9110 §15.6.4 / §10.2.3 for 503/429 + Retry-After):

* retried: connect errors, timeouts and other transport failures, HTTP 429
  and HTTP 5xx; at most `settings.carrier_max_retries` retries after the
  first attempt;
* never retried: any other 4xx, and any status the caller lists in
  `ok_statuses` (the caller wants that body);
* a request marked `idempotent=False` (e.g. booking a label) is retried only
  where the carrier cannot have acted on it: connect failures and 429.

URLs are logged without their query string, because some carriers
(PostNord) take the API key as a query parameter.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter
from tenacity.wait import wait_base

from app.core.config import Settings, get_settings
from app.carriers.errors import CarrierAuthError, CarrierBadResponse, CarrierError, CarrierRateLimited, CarrierUnavailable
from app.core import tracing
from app.core.metrics import CARRIER_CALLS, CARRIER_LATENCY

logger = logging.getLogger(__name__)

USER_AGENT = "courier-hub/0.1 (+https://github.com/courier-hub)"
BACKOFF_INITIAL_SECONDS = 0.5
"""First backoff wait in seconds; doubles per attempt, plus up to `BACKOFF_JITTER_SECONDS`."""
BACKOFF_JITTER_SECONDS = 0.5

# Transport failures after which the request certainly never reached the carrier.
_NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Transient transport failures that are safe to retry for idempotent requests.
_TRANSIENT_ERRORS: tuple[type[Exception], ...] = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

Sleep = Callable[[float], Awaitable[None]]


class _RetryableStatus(Exception):
    """Internal: a 429/5xx response that tenacity may retry."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header value, or None if absent/invalid.

    Accepts delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT",
    RFC 9110 §10.2.3); a date in the past gives 0.0. Not capped here.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = None  # not delay-seconds: try an HTTP-date below
    if seconds is not None:
        return max(seconds, 0.0) if seconds == seconds else None  # NaN guard
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - (now or datetime.now(timezone.utc))).total_seconds(), 0.0)


class wait_retry_after_or_backoff(wait_base):  # noqa: N801 - tenacity naming style
    """Tenacity wait: the response's `Retry-After` if given, else `fallback`; both capped at `max_wait` seconds."""

    def __init__(self, *, fallback: wait_base, max_wait: float) -> None:
        self.fallback = fallback
        self.max_wait = max_wait

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(exc, _RetryableStatus):
            retry_after = parse_retry_after(exc.response.headers.get("Retry-After"))
            if retry_after is not None:
                return min(retry_after, self.max_wait)
        return min(self.fallback(retry_state), self.max_wait)


@dataclass(frozen=True)
class GetRequest:
    """A GET a carrier's pure request builder hands to its adapter: absolute `url` and query `params`.

    Headers (credentials) are the adapter's; `params` may hold a key
    (PostNord's `apikey`), so log a request only through `redact_url`.
    """

    url: str
    params: dict[str, str]


def redact_url(url: httpx.URL | str) -> str:
    """The URL without query string or credentials, safe for logs and error messages."""
    parsed = httpx.URL(str(url))
    return str(parsed.copy_with(query=None, fragment=None, userinfo=b""))


_VERSION_SEGMENT = re.compile(r"^v\d+(\.\d+)*$")


def operation_of(method: str, url: str) -> str:
    """`METHOD /path/template` of a URL for metrics: no query, and each path segment holding a digit
    (an id, a tracking number; `v2`-style versions kept) or over 40 characters becomes `{id}`."""
    path = httpx.URL(url).path or "/"
    segments = [
        "{id}" if (any(c.isdigit() for c in s) and not _VERSION_SEGMENT.match(s)) or len(s) > 40 else s
        for s in path.split("/")
    ]
    return f"{method.upper()} {'/'.join(segments)}"[:120]


def _snippet(response: httpx.Response, limit: int = 300) -> str:
    text = " ".join(response.content.decode("utf-8-sig", errors="replace").split())
    return text[:limit] + ("…" if len(text) > limit else "")


class CarrierHttp:
    """The shared outbound HTTP behaviour for all carrier adapters.

    Wraps one `httpx.AsyncClient` (connect/read timeouts from settings,
    `carrier_connect_timeout_seconds` / `carrier_read_timeout_seconds`).

    Args (all keyword-only, all optional):
        settings: defaults to `get_settings()`.
        client: an existing AsyncClient to use (not closed by `aclose` unless
            `owns_client=True`); tests may pass one with a mock transport.
        transport: a transport for the internally created client.
        wait: a tenacity wait strategy replacing the default
            (Retry-After or exponential backoff with jitter).
        sleep: the async sleep tenacity uses between attempts (tests pass a
            recorder so no real time passes).
        max_retries: overrides `settings.carrier_max_retries`.
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        owns_client: bool | None = None,
        wait: wait_base | None = None,
        sleep: Sleep | None = None,
        max_retries: int | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self._transport = transport
        self._client = client
        self._owns_client = owns_client if owns_client is not None else client is None
        self.max_retries = max(0, self.settings.carrier_max_retries if max_retries is None else max_retries)
        self.max_wait = self.settings.carrier_retry_max_wait_seconds
        self.wait = wait or wait_retry_after_or_backoff(
            fallback=wait_exponential_jitter(
                multiplier=BACKOFF_INITIAL_SECONDS, max=self.max_wait, jitter=BACKOFF_JITTER_SECONDS
            ),
            max_wait=self.max_wait,
        )
        self.sleep: Sleep = sleep or asyncio.sleep

    @property
    def client(self) -> httpx.AsyncClient:
        """The underlying AsyncClient, created on first use."""
        if self._client is None or self._client.is_closed:
            timeout = httpx.Timeout(
                connect=self.settings.carrier_connect_timeout_seconds,
                read=self.settings.carrier_read_timeout_seconds,
                write=self.settings.carrier_read_timeout_seconds,
                pool=self.settings.carrier_connect_timeout_seconds,
            )
            self._client = httpx.AsyncClient(
                timeout=timeout,
                transport=self._transport,
                headers={"User-Agent": USER_AGENT},
                follow_redirects=False,
            )
            self._owns_client = True
        return self._client

    async def aclose(self) -> None:
        """Close the client if this object created it (app shutdown)."""
        if self._client is not None and self._owns_client and not self._client.is_closed:
            await self._client.aclose()

    async def request(
        self,
        carrier: str,
        method: str,
        url: str,
        *,
        operation: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """`_send` (below: arguments, retries, errors), measured and traced as one carrier call.

        `operation` names the call in metrics and spans ("track", "create_shipment"); by default the
        method and the URL's path template (`GET /track/{id}`: segments with digits become `{id}`).
        Counts `courier_hub_carrier_calls_total{carrier,operation,outcome}` (outcome `ok`, `rejected`
        for a 4xx the caller accepted, or the error: `unavailable`, `unknown`, `rate_limited`,
        `auth_failed`, `bad_response`) and observes the call's seconds, retries included, under a span
        `carrier <carrier> <operation>` (app.core.tracing).
        """
        operation = operation or operation_of(method, url)
        started = time.perf_counter()
        outcome = "error"
        with tracing.span(f"carrier {carrier} {operation}", **{"carrier.code": carrier, "carrier.operation": operation}):
            try:
                response = await self._send(carrier, method, url, **kwargs)
                outcome = "ok" if response.status_code < 400 else "rejected"
                return response
            except CarrierUnavailable as exc:
                outcome = "unknown" if exc.outcome_unknown else "unavailable"
                raise
            except CarrierError as exc:
                outcome = exc.problem_type.removeprefix("carrier-").replace("-", "_")
                raise
            finally:
                CARRIER_CALLS.labels(carrier, operation, outcome).inc()
                CARRIER_LATENCY.labels(carrier, operation).observe(time.perf_counter() - started)

    async def _send(
        self,
        carrier: str,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        ok_statuses: Collection[int] = (200,),
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send one carrier request with retries; return the response if its status is in `ok_statuses`.

        Args:
            carrier: carrier code used in errors and logs ("dhl").
            method, url: HTTP method and absolute URL.
            headers, params, json, data, auth: as for `httpx.AsyncClient.request`
                (`data` is sent form-encoded).
            ok_statuses: statuses returned to the caller as-is and never
                retried (e.g. add 404 where 404 means "not found").
            idempotent: False limits retries to connect failures and 429.

        Raises (after retries are exhausted where retried):
            CarrierRateLimited: HTTP 429 (`retry_after` in seconds from the header, if any).
            CarrierUnavailable: HTTP 5xx, connect errors, timeouts, other transport errors
                (`outcome_unknown` when the request may have been sent but no answer came).
            CarrierAuthError: HTTP 401 or 403.
            CarrierBadResponse: any other status not in `ok_statuses`.
        """
        ok = frozenset(ok_statuses)
        safe_url = redact_url(url)

        async def send_once() -> httpx.Response:
            response = await self.client.request(
                method, url, headers=headers, params=params, json=json, data=data, auth=auth
            )
            if response.status_code not in ok and (response.status_code == 429 or response.status_code >= 500):
                raise _RetryableStatus(response)
            return response

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, _RetryableStatus):
                return idempotent or exc.response.status_code == 429
            return isinstance(exc, _TRANSIENT_ERRORS if idempotent else _NOT_SENT_ERRORS)

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            logger.warning(
                "carrier %s: %s %s failed (%s), retry %d/%d in %.2fs",
                carrier,
                method,
                safe_url,
                exc,
                state.attempt_number,
                self.max_retries,
                state.upcoming_sleep,
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self.wait,
            retry=retry_if_exception(retryable),
            sleep=self.sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            response = await retrying(send_once)
        except _RetryableStatus as exc:
            response = exc.response
        except httpx.TransportError as exc:
            raise CarrierUnavailable(
                carrier,
                f"{method} {safe_url}: {type(exc).__name__}: {exc}",
                outcome_unknown=not isinstance(exc, _NOT_SENT_ERRORS),
            ) from exc

        status = response.status_code
        if status in ok:
            return response
        detail = f"{method} {safe_url} -> HTTP {status}: {_snippet(response)}"
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise CarrierRateLimited(carrier, detail, retry_after=retry_after, status_code=status)
        if status >= 500:
            raise CarrierUnavailable(carrier, detail, status_code=status)
        if status in (401, 403):
            raise CarrierAuthError(carrier, detail, status_code=status)
        raise CarrierBadResponse(carrier, detail, status_code=status)


def decode_json(carrier: str, response: httpx.Response, *, exact_numbers: bool = False) -> Any:
    """The response body parsed as JSON (a leading UTF-8 BOM is ignored).

    With `exact_numbers`, JSON numbers with a fraction or exponent become `Decimal`
    (not float), for replies whose amounts must stay exact (rates).
    Raises CarrierBadResponse if the body is empty, not UTF-8 or not JSON.
    """
    try:
        return jsonlib.loads(response.content.decode("utf-8-sig"), parse_float=Decimal if exact_numbers else None)
    except (UnicodeDecodeError, ValueError) as exc:
        try:
            where = redact_url(response.request.url)
        except RuntimeError:  # a Response built without a request (tests)
            where = "carrier"
        raise CarrierBadResponse(
            carrier, f"invalid JSON from {where} (HTTP {response.status_code}): {exc}", status_code=response.status_code
        ) from exc


_default_http: CarrierHttp | None = None


def get_carrier_http() -> CarrierHttp:
    """The process-wide `CarrierHttp` (one AsyncClient per process), created on first call."""
    global _default_http
    if _default_http is None:
        _default_http = CarrierHttp()
    return _default_http


async def aclose_carrier_http() -> None:
    """Close the process-wide client (call from the app/worker shutdown); a later call recreates it."""
    global _default_http
    if _default_http is not None:
        http, _default_http = _default_http, None
        await http.aclose()
