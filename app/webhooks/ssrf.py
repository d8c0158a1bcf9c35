"""SSRF protection for outbound merchant webhooks.

A merchant chooses the URL we POST to, so without checks a tenant could make
the worker call the cloud metadata service, the database or any other service
on the private network. Two checks guard against that:

* `validate_endpoint_url` when an endpoint is created or updated (no DNS):
  https only, no credentials in the URL, no literal private address and no
  obviously internal host name;
* `build_webhook_client` for every delivery: each TCP connect resolves the
  host itself, refuses the connect if *any* resolved address is not public
  (`resolve_public_addresses`) and then connects to that checked address, so
  a DNS answer that changes between check and connect (DNS rebinding) cannot
  reach a private address. TLS still verifies the URL's host name.

Hosts listed in `WEBHOOK_DEV_ALLOWED_HOSTS` (`Settings.webhook_dev_hosts`)
skip both checks and may use plain http: local development only.

Redirects are never followed by the client (a public receiver could
otherwise bounce the request to a private address).

How a refused connect surfaces: `client.post(...)` raises
`WebhookConnectionRefused`, which is both an `UnsafeWebhookUrl` and an
`httpx.ConnectError`, so `except UnsafeWebhookUrl`, `except httpx.ConnectError`
and `except httpx.HTTPError` all catch it. `is_unsafe_url_error` also finds an
`UnsafeWebhookUrl` further down an exception's cause chain.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import time
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from urllib.parse import unquote

import anyio
import httpcore
import httpx

from app.core import tracing
from app.core.config import Settings

USER_AGENT = "courier-hub-webhooks/0.1"
MAX_URL_LENGTH = 2048
"""Longest endpoint URL accepted, in characters."""

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""`async (host, port) -> [address, ...]`: how a host name becomes IP addresses."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Named explicitly so the refusal says what was hit; `is_global` already
# excludes the link-local/ULA/shared ones, but Alibaba's 100.100.100.200 sits in
# 100.64/10 and must stay refused whatever a future stdlib thinks of it.
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
# RFC 6598 shared address space (carrier-grade NAT); the stdlib has no property for it.
_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
# RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 address reached.
_NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")

# Names that only ever mean "this machine" or "this network" (RFC 6761, RFC 6762,
# RFC 8375, cloud-internal DNS such as metadata.google.internal).
_INTERNAL_NAME_SUFFIXES = ("localhost", "local", "internal", "localdomain", "home.arpa")

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# WHATWG URL: a host whose last label is a number is an IPv4 address
# (127.1, 0x7f000001, 2130706433 all reach 127.0.0.1 through getaddrinfo).
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


class UnsafeWebhookUrl(ValueError):
    """The URL may not be used (reason in str())."""


class WebhookConnectionRefused(UnsafeWebhookUrl, httpx.ConnectError):
    """A delivery's connect was refused by the SSRF check (reason in str()).

    Raised by the client of `build_webhook_client` instead of connecting; it is
    an `UnsafeWebhookUrl` and an `httpx.ConnectError` at once, and its
    `__cause__` is the original `UnsafeWebhookUrl`.
    """

    def __init__(self, message: str, *, request: httpx.Request) -> None:
        httpx.ConnectError.__init__(self, message, request=request)


def is_unsafe_url_error(exc: BaseException) -> bool:
    """True when `exc`, or any exception in its cause/context chain, is an `UnsafeWebhookUrl`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, UnsafeWebhookUrl):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def describe(exc: BaseException) -> str:
    """One line for a failed delivery attempt: the refusal reason, or `"<ExceptionType>: <message>"`.

    httpx timeouts often carry an empty message; then only the type name is given.
    """
    if isinstance(exc, UnsafeWebhookUrl):
        return str(exc)
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _host_key(host: str) -> str:
    """The form of a host that is compared with `dev_hosts`: lower case, no brackets, no trailing dot."""
    return host.strip().lower().strip("[]").rstrip(".")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address really reaches (IPv4-mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64_PREFIX:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Why a webhook may not connect to `ip` ("loopback", "private", ...), or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(int(ip))  # drop any scope id (fe80::1%eth0)
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return refusal_reason(embedded)
    if ip in _METADATA_ADDRESSES:
        return "cloud metadata"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:  # is_global is True for some multicast ranges
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_ADDRESS_SPACE:
        return "shared (CGNAT)"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-public"
    return None


def _parse_address(address: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def validate_endpoint_url(url: str, *, dev_hosts: frozenset[str]) -> str:
    """Check a webhook endpoint URL when it is created or updated; no DNS lookup.

    Rules: an absolute http(s) URL of at most `MAX_URL_LENGTH` characters, a
    host (a valid IDNA name if it has `xn--` labels), a port in 1-65535 if
    one is given, no userinfo (`user:pw@`); https unless the host is in `dev_hosts`
    (lower-case hosts, `Settings.webhook_dev_hosts`). Unless the host is in
    `dev_hosts`: a literal IPv4/IPv6 host must be public (see
    `refusal_reason`), numeric IPv4 spellings other than a dotted quad
    (`127.1`, `0x7f000001`) are refused, and a host name must be a valid
    fully qualified name that is not `localhost`, `*.localhost`, `*.local`,
    `*.internal` (incl. `metadata.google.internal`), `*.localdomain` or
    `*.home.arpa`. Hosts are resolved and checked again at send time.

    Returns the normalized URL (scheme and host lower-cased, IDNA host,
    default port and fragment dropped), e.g. `"HTTPS://Example.com:443/h#x"`
    → `"https://example.com/h"`. Raises `UnsafeWebhookUrl` with the reason.
    """
    if not isinstance(url, str):
        raise UnsafeWebhookUrl("the URL must be a string")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise UnsafeWebhookUrl(f"not a valid URL: {exc}") from exc
    if not parsed.scheme:
        raise UnsafeWebhookUrl("the URL must be absolute (https://host/path)")
    if parsed.scheme not in ("http", "https"):
        raise UnsafeWebhookUrl(f"the URL scheme must be https, not {parsed.scheme!r}")
    if not parsed.raw_host:
        raise UnsafeWebhookUrl("the URL has no host")
    if parsed.userinfo:
        raise UnsafeWebhookUrl("the URL must not contain credentials (user:password@)")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise UnsafeWebhookUrl(f"the port must be between 1 and 65535, not {parsed.port}")

    host = _host_key(parsed.raw_host.decode("ascii"))
    try:
        display_host = _host_key(parsed.host)  # IDNA-decoded; a malformed A-label ("xn--") raises
    except UnicodeError as exc:
        raise UnsafeWebhookUrl(f"invalid host name {host!r}: {exc}") from None
    normalized = str(parsed.copy_with(fragment=None))
    if host in dev_hosts or display_host in dev_hosts:
        return normalized
    if parsed.scheme != "https":
        raise UnsafeWebhookUrl("the URL must use https")

    if ":" in host:  # httpx only lets an IPv6 literal in brackets have colons
        ip = _parse_address(unquote(host))
        if ip is None:
            raise UnsafeWebhookUrl(f"invalid IPv6 address {host!r}")
        _refuse_literal(ip)
        return normalized
    labels = host.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        ip = _parse_address(host)
        if not isinstance(ip, ipaddress.IPv4Address):
            raise UnsafeWebhookUrl(f"{host!r} is not a canonical dotted IPv4 address")
        _refuse_literal(ip)
        return normalized
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise UnsafeWebhookUrl(f"invalid host name {host!r}")
    if any(host == suffix or host.endswith("." + suffix) for suffix in _INTERNAL_NAME_SUFFIXES):
        raise UnsafeWebhookUrl(f"refused: internal host name {host!r}")
    if len(labels) < 2:
        # A single label is completed by the resolver's search domains: an internal name.
        raise UnsafeWebhookUrl(f"the host {host!r} must be a fully qualified domain name")
    return normalized


def _refuse_literal(ip: IPAddress) -> None:
    reason = refusal_reason(ip)
    if reason is not None:
        raise UnsafeWebhookUrl(f"refused: {reason} address {ip}")


async def _getaddrinfo(host: str, port: int) -> list[str]:
    """The system resolver: distinct addresses in getaddrinfo's preference order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_public_addresses(
    host: str, port: int, *, dev_hosts: frozenset[str], resolver: Resolver | None = None
) -> list[str]:
    """Resolve `host` at send time and return its addresses (strings, resolver order).

    `resolver` is an `async (host, port) -> list[str]`; default `loop.getaddrinfo`.
    Raises `UnsafeWebhookUrl` when resolution fails or returns nothing, or when
    ANY address is not public (`refusal_reason`), e.g.
    `"refused: private address 10.0.0.5 for host 'shop.example'"`, unless
    the host is in `dev_hosts`; then every address is returned unchecked.
    """
    key = _host_key(host)
    try:
        addresses = await (resolver or _getaddrinfo)(host, port)
    except UnsafeWebhookUrl:
        raise
    except Exception as exc:  # gaierror, UnicodeError from IDNA, a resolver's own errors
        raise UnsafeWebhookUrl(f"refused: cannot resolve host {host!r}: {exc}") from exc
    if not addresses:
        raise UnsafeWebhookUrl(f"refused: host {host!r} resolved to no address")
    if key in dev_hosts:
        return list(addresses)
    checked: list[str] = []
    for address in addresses:
        ip = _parse_address(address)
        if ip is None:
            raise UnsafeWebhookUrl(f"refused: host {host!r} resolved to {address!r}, not an IP address")
        reason = refusal_reason(ip)
        if reason is not None:
            raise UnsafeWebhookUrl(f"refused: {reason} address {address} for host {host!r}")
        checked.append(str(ip))
    return checked


class _GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that resolves and checks the host, then connects to the checked IP.

    httpcore calls `connect_tcp` with the URL's host and afterwards does TLS
    with `server_hostname` = that same host, so SNI and certificate checks
    keep using the name while the socket goes to the address we checked.
    """

    def __init__(self, *, dev_hosts: frozenset[str], resolver: Resolver | None) -> None:
        self._dev_hosts = dev_hosts
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve `host`, refuse it if any address is not public (unless dev-allowed), connect to a checked address.

        `timeout` (seconds) covers resolution and connecting. Raises
        UnsafeWebhookUrl, httpcore.ConnectTimeout or the last httpcore.ConnectError.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            with anyio.fail_after(timeout):
                addresses = await resolve_public_addresses(
                    host, port, dev_hosts=self._dev_hosts, resolver=self._resolver
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from exc

        last_error: Exception | None = None
        for address in addresses:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise httpcore.ConnectTimeout(f"connecting to {host!r} timed out") from last_error
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=remaining, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        if last_error is None:  # addresses is never empty
            raise httpcore.ConnectError(f"no address to connect to for {host}")
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Always raises UnsafeWebhookUrl: a webhook never goes to a unix socket."""
        raise UnsafeWebhookUrl("refused: webhooks never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` on the wrapped backend."""
        await self._inner.sleep(seconds)


# httpcore → httpx exception types, most specific first (what httpx's own
# transport does; its mapping helper is private, so it is restated here).
_EXCEPTION_MAP: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _mapped_exceptions(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except UnsafeWebhookUrl as exc:
        raise WebhookConnectionRefused(str(exc), request=request) from exc
    except Exception as exc:
        for source, target in _EXCEPTION_MAP:
            if isinstance(exc, source):
                raise target(str(exc), request=request) from exc
        raise


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped_exceptions(self._request):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        """Close the underlying httpcore stream (returns the connection to the pool)."""
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """httpx transport whose every new connection goes through the SSRF check.

    Built like `httpx.AsyncHTTPTransport` without proxies (an
    `httpcore.AsyncConnectionPool`, HTTP/1.1, certificate verification on),
    except that the pool's network backend is `_GuardedNetworkBackend`.
    A refused connect raises `WebhookConnectionRefused`. `ssl_context`
    defaults to httpx's (certifi CAs, verification on); tests pass their own CA.
    """

    def __init__(
        self,
        *,
        dev_hosts: frozenset[str],
        resolver: Resolver | None = None,
        limits: httpx.Limits | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=_GuardedNetworkBackend(dev_hosts=dev_hosts, resolver=resolver),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through the guarded pool; raises httpx transport errors or `WebhookConnectionRefused`."""
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("the webhook transport sends async request bodies only")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped_exceptions(request):
            response = await self._pool.handle_async_request(core_request)
        if not isinstance(response.stream, typing.AsyncIterable):
            raise TypeError("the connection pool answered with a synchronous body")
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream, request),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._pool.aclose()


def build_webhook_client(*, settings: Settings, resolver: Resolver | None = None) -> httpx.AsyncClient:
    """The shared `httpx.AsyncClient` for webhook deliveries (one per process; close it with `aclose()`).

    Timeout `settings.webhook_timeout_seconds` for each of connect (including
    the DNS lookup), read, write and pool wait; redirects never followed (a
    3xx is returned as the response); `trust_env=False`, because httpx would
    otherwise mount `HTTP(S)_PROXY` transports ahead of the guarded one;
    User-Agent `courier-hub-webhooks/0.1`. Every new connection is checked by
    `resolve_public_addresses` against `settings.webhook_dev_hosts` and made
    to the checked address; a refused one makes the request raise
    `WebhookConnectionRefused` (an `UnsafeWebhookUrl` and an
    `httpx.ConnectError`). `resolver` replaces getaddrinfo (tests).
    """
    return tracing.instrument_client(httpx.AsyncClient(  # a span per delivery POST when tracing is on
        transport=GuardedTransport(dev_hosts=settings.webhook_dev_hosts, resolver=resolver),
        timeout=httpx.Timeout(settings.webhook_timeout_seconds),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    ))
