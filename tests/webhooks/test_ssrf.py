"""SSRF protection of outbound webhooks (app/webhooks/ssrf.py).

No network: name resolution is injected, and the receiver is a real HTTP
server on 127.0.0.1 started by the test.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from app.core.config import Settings
from app.webhooks.ssrf import (
    USER_AGENT,
    GuardedTransport,
    UnsafeWebhookUrl,
    WebhookConnectionRefused,
    build_webhook_client,
    describe,
    is_unsafe_url_error,
    refusal_reason,
    resolve_public_addresses,
    validate_endpoint_url,
)

NO_DEV: frozenset[str] = frozenset()
DEV = frozenset({"127.0.0.1", "localhost"})


def _settings(dev_hosts: str = "") -> Settings:
    return Settings(
        webhook_dev_allowed_hosts=dev_hosts,
        webhook_timeout_seconds=5.0,
        database_url="postgresql://x/y",
        _env_file=None,
    )


def _resolver(answers: dict[str, list[str]], calls: list[str] | None = None):
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in answers:
            raise OSError(f"no such host {host}")
        return answers[host]

    return resolve


# --- validate_endpoint_url ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com", "https://example.com"),
        ("https://Example.COM:443/hooks?x=1#frag", "https://example.com/hooks?x=1"),
        ("  https://shop.example.org:8443/h  ", "https://shop.example.org:8443/h"),
        ("https://93.184.216.34/hook", "https://93.184.216.34/hook"),
        ("https://[2606:2800:220:1:248:1893:25c8:1946]/hook", "https://[2606:2800:220:1:248:1893:25c8:1946]/hook"),
        ("https://bücher.de/hook", "https://xn--bcher-kva.de/hook"),
    ],
)
def test_validate_accepts_public_https(url: str, expected: str) -> None:
    assert validate_endpoint_url(url, dev_hosts=NO_DEV) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com", "https"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.0.0.1/hook", "private"),
        ("https://192.168.1.10/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("https://100.100.100.200/", "cloud metadata"),
        ("https://100.64.0.1/", "CGNAT"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://224.0.0.1/", "multicast"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://[fd00::1]/hook", "private"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://[fd00:ec2::254]/", "cloud metadata"),
        ("https://127.1/", "canonical"),
        ("https://0x7f000001/", "canonical"),
        ("https://2130706433/", "canonical"),
        ("https://999.1.1.1/", "valid"),
        ("https://localhost/hook", "internal host name"),
        ("https://localhost./hook", "internal host name"),
        ("https://foo.localhost/hook", "internal host name"),
        ("https://printer.local/hook", "internal host name"),
        ("https://metadata.google.internal/computeMetadata/v1/", "internal host name"),
        ("https://db.internal/", "internal host name"),
        ("https://intranet/hook", "fully qualified"),
        ("https://exa mple.com/", "invalid host name"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https://user@example.com/hook", "credentials"),
        ("ftp://x", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("not a url", "absolute"),
        ("/relative/hook", "absolute"),
        ("//example.com/hook", "absolute"),
        ("https:///hook", "no host"),
        ("https://example.com/" + "a" * 2048, "longer than 2048"),
    ],
)
def test_validate_refuses(url: str, reason: str) -> None:
    with pytest.raises(UnsafeWebhookUrl, match=reason):
        validate_endpoint_url(url, dev_hosts=NO_DEV)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "http://localhost/hook", "https://LOCALHOST:9000/x", "http://localhost./hook"]
)
def test_validate_allows_dev_hosts_over_http(url: str) -> None:
    assert validate_endpoint_url(url, dev_hosts=DEV).startswith(url.split("://")[0].lower() + "://")


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1/hook", "https://10.0.0.1/hook", "http://example.com/hook", "http://user:pw@127.0.0.1/"]
)
def test_validate_dev_hosts_do_not_open_other_hosts(url: str) -> None:
    with pytest.raises(UnsafeWebhookUrl):
        validate_endpoint_url(url, dev_hosts=DEV)


def test_validate_dev_ipv6_literal() -> None:
    assert validate_endpoint_url("http://[::1]:8080/h", dev_hosts=frozenset({"::1"})) == "http://[::1]:8080/h"


@given(st.ip_addresses(v=4))
def test_literal_ipv4_accepted_only_when_public(ip: ipaddress.IPv4Address) -> None:
    url = f"https://{ip}/hook"
    if refusal_reason(ip) is None:
        assert validate_endpoint_url(url, dev_hosts=NO_DEV) == url
    else:
        with pytest.raises(UnsafeWebhookUrl):
            validate_endpoint_url(url, dev_hosts=NO_DEV)


@given(st.ip_addresses(v=4))
def test_ipv4_mapped_ipv6_gets_the_ipv4_verdict(ip: ipaddress.IPv4Address) -> None:
    assert refusal_reason(ipaddress.IPv6Address(f"::ffff:{ip}")) == refusal_reason(ip)
    assert refusal_reason(ipaddress.IPv6Address(f"64:ff9b::{ip}")) == refusal_reason(ip)


# --- resolve_public_addresses -------------------------------------------------


async def test_resolve_refuses_private_answer() -> None:
    with pytest.raises(UnsafeWebhookUrl, match=r"refused: private address 10\.0\.0\.5 for host 'shop\.example'"):
        await resolve_public_addresses(
            "shop.example", 443, dev_hosts=NO_DEV, resolver=_resolver({"shop.example": ["10.0.0.5"]})
        )


async def test_resolve_allows_public_answer() -> None:
    addresses = await resolve_public_addresses(
        "shop.example",
        443,
        dev_hosts=NO_DEV,
        resolver=_resolver({"shop.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]}),
    )
    assert addresses == ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]


async def test_resolve_refuses_when_any_answer_is_private() -> None:
    with pytest.raises(UnsafeWebhookUrl, match="loopback address 127.0.0.1"):
        await resolve_public_addresses(
            "shop.example",
            443,
            dev_hosts=NO_DEV,
            resolver=_resolver({"shop.example": ["93.184.216.34", "127.0.0.1"]}),
        )


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("100.64.0.1", "CGNAT"),
        ("fd00::1", "private"),
        ("fe80::1%eth0", "link-local"),
        ("::", "unspecified"),
        ("0.0.0.0", "unspecified"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("198.18.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "cloud metadata"),  # NAT64 wrapping 169.254.169.254
        ("not-an-ip", "not an IP address"),
    ],
)
async def test_resolve_refuses_non_public(address: str, reason: str) -> None:
    with pytest.raises(UnsafeWebhookUrl, match=reason):
        await resolve_public_addresses("shop.example", 443, dev_hosts=NO_DEV, resolver=_resolver({"shop.example": [address]}))


async def test_resolve_failure_is_refused() -> None:
    with pytest.raises(UnsafeWebhookUrl, match="cannot resolve host 'nowhere.example'"):
        await resolve_public_addresses("nowhere.example", 443, dev_hosts=NO_DEV, resolver=_resolver({}))


async def test_resolve_empty_answer_is_refused() -> None:
    with pytest.raises(UnsafeWebhookUrl, match="no address"):
        await resolve_public_addresses("shop.example", 443, dev_hosts=NO_DEV, resolver=_resolver({"shop.example": []}))


async def test_resolve_dev_host_skips_the_check() -> None:
    dev = frozenset({"receiver.test"})
    addresses = await resolve_public_addresses(
        "Receiver.Test.", 8080, dev_hosts=dev, resolver=_resolver({"Receiver.Test.": ["10.0.0.5", "127.0.0.1"]})
    )
    assert addresses == ["10.0.0.5", "127.0.0.1"]


async def test_resolve_with_the_system_resolver() -> None:
    # A numeric host needs no DNS server, so this stays offline.
    with pytest.raises(UnsafeWebhookUrl, match="loopback address 127.0.0.1"):
        await resolve_public_addresses("127.0.0.1", 80, dev_hosts=NO_DEV)
    assert await resolve_public_addresses("127.0.0.1", 80, dev_hosts=frozenset({"127.0.0.1"})) == ["127.0.0.1"]


# --- build_webhook_client against a real local receiver ----------------------


@dataclass
class Receiver:
    """A minimal HTTP/1.1 server on 127.0.0.1 that records what reached it."""

    port: int = 0
    connections: int = 0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200
    extra_headers: dict[str, str] = field(default_factory=dict)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in header_lines if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((request_line, headers, body))
                reply = b"ok" if self.status == 200 else b""
                lines = [f"HTTP/1.1 {self.status} Whatever", f"Content-Length: {len(reply)}"]
                lines += [f"{k}: {v}" for k, v in self.extra_headers.items()]
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def _serve(tls: ssl.SSLContext | None = None) -> AsyncIterator[Receiver]:
    state = Receiver()
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=tls)
    state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield state
        server.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with _serve() as state:
        yield state


async def test_client_settings() -> None:
    async with build_webhook_client(settings=_settings()) as client:
        assert client.follow_redirects is False
        assert client.trust_env is False
        assert client.timeout == httpx.Timeout(5.0)
        assert client.headers["user-agent"] == USER_AGENT == "courier-hub-webhooks/0.1"


async def test_client_refuses_loopback_without_dev_allow(receiver: Receiver) -> None:
    async with build_webhook_client(settings=_settings()) as client:
        with pytest.raises(WebhookConnectionRefused) as caught:
            await client.post(f"http://127.0.0.1:{receiver.port}/hook", content=b"{}")
    exc = caught.value
    assert isinstance(exc, UnsafeWebhookUrl)
    assert isinstance(exc, httpx.ConnectError)
    assert isinstance(exc.__cause__, UnsafeWebhookUrl)
    assert exc.request.url == f"http://127.0.0.1:{receiver.port}/hook"
    assert is_unsafe_url_error(exc)
    assert describe(exc) == "refused: loopback address 127.0.0.1 for host '127.0.0.1'"
    assert receiver.connections == 0


async def test_client_delivers_to_dev_allowed_host(receiver: Receiver) -> None:
    async with build_webhook_client(settings=_settings("127.0.0.1")) as client:
        response = await client.post(f"http://127.0.0.1:{receiver.port}/hook", content=b'{"type":"x"}')
        again = await client.post(f"http://127.0.0.1:{receiver.port}/hook", content=b"{}")
    assert (response.status_code, response.text, again.status_code) == (200, "ok", 200)
    request_line, headers, body = receiver.requests[0]
    assert request_line == "POST /hook HTTP/1.1"
    assert headers["user-agent"] == "courier-hub-webhooks/0.1"
    assert body == b'{"type":"x"}'
    assert receiver.connections == 1  # the checked connection is kept alive and reused


async def test_client_refuses_name_resolving_to_loopback(receiver: Receiver) -> None:
    calls: list[str] = []
    resolver = _resolver({"hooks.shop.example": ["127.0.0.1"]}, calls)
    async with build_webhook_client(settings=_settings(), resolver=resolver) as client:
        with pytest.raises(UnsafeWebhookUrl, match="loopback address 127.0.0.1 for host 'hooks.shop.example'"):
            await client.post(f"http://hooks.shop.example:{receiver.port}/hook", content=b"{}")
    assert calls == ["hooks.shop.example"]
    assert receiver.connections == 0


async def test_client_refuses_when_any_answer_is_private(receiver: Receiver) -> None:
    resolver = _resolver({"hooks.shop.example": ["93.184.216.34", "127.0.0.1"]})
    async with build_webhook_client(settings=_settings(), resolver=resolver) as client:
        with pytest.raises(WebhookConnectionRefused):
            await client.post(f"http://hooks.shop.example:{receiver.port}/hook")
    assert receiver.connections == 0


async def test_client_connects_to_the_checked_address(receiver: Receiver) -> None:
    # `receiver.test` exists only in the injected resolver: the request can reach
    # the server only if the transport connects to the address it resolved and
    # checked itself, never doing a second lookup of its own.
    calls: list[str] = []
    resolver = _resolver({"receiver.test": ["127.0.0.1"]}, calls)
    async with build_webhook_client(settings=_settings("receiver.test"), resolver=resolver) as client:
        response = await client.post(f"http://receiver.test:{receiver.port}/hook", content=b"{}")
    assert response.status_code == 200
    assert calls == ["receiver.test"]
    assert receiver.requests[0][1]["host"] == f"receiver.test:{receiver.port}"


async def test_client_resolution_failure_is_refused(receiver: Receiver) -> None:
    async with build_webhook_client(settings=_settings(), resolver=_resolver({})) as client:
        with pytest.raises(WebhookConnectionRefused, match="cannot resolve host"):
            await client.post("https://nowhere.example/hook")


async def test_client_does_not_follow_redirects(receiver: Receiver) -> None:
    receiver.status = 302
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    async with build_webhook_client(settings=_settings("127.0.0.1")) as client:
        response = await client.post(f"http://127.0.0.1:{receiver.port}/hook", content=b"{}")
    assert response.status_code == 302
    assert response.headers["location"] == "http://169.254.169.254/latest/meta-data/"
    assert len(receiver.requests) == 1


async def test_client_ignores_proxy_environment(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # discard port: a used proxy would fail
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with build_webhook_client(settings=_settings("127.0.0.1")) as client:
        response = await client.post(f"http://127.0.0.1:{receiver.port}/hook", content=b"{}")
    assert response.status_code == 200


async def test_client_ordinary_connect_error_is_not_unsafe() -> None:
    # Port 9 on 127.0.0.1 (discard) is closed here; the address itself is allowed.
    async with build_webhook_client(settings=_settings("127.0.0.1")) as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await client.post("http://127.0.0.1:9/hook")
    assert not is_unsafe_url_error(caught.value)
    assert describe(caught.value).startswith("ConnectError")


def test_describe_and_is_unsafe_url_error() -> None:
    assert describe(httpx.ReadTimeout("")) == "ReadTimeout"
    assert describe(UnsafeWebhookUrl("refused: x")) == "refused: x"
    try:
        try:
            raise UnsafeWebhookUrl("refused: private address 10.0.0.1")
        except UnsafeWebhookUrl as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert is_unsafe_url_error(outer)
    assert not is_unsafe_url_error(ValueError("other"))


# --- TLS: the socket goes to the checked IP, SNI and certificate use the name --


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _tls_contexts(tmp_path: Path, name: str, server_names: list[str | None]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert_path, key_path = _self_signed(tmp_path, name)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    server.sni_callback = lambda _sock, server_name, _ctx: server_names.append(server_name)
    return server, ssl.create_default_context(cafile=str(cert_path))


async def test_tls_uses_the_host_name_while_connecting_to_the_checked_ip(tmp_path: Path) -> None:
    server_names: list[str | None] = []
    server_tls, client_tls = _tls_contexts(tmp_path, "receiver.test", server_names)
    resolver = _resolver({"receiver.test": ["127.0.0.1"]})
    transport = GuardedTransport(dev_hosts=frozenset({"receiver.test"}), resolver=resolver, ssl_context=client_tls)
    async with _serve(server_tls) as server, httpx.AsyncClient(transport=transport, trust_env=False) as client:
        response = await client.post(f"https://receiver.test:{server.port}/hook", content=b"{}")
    assert response.status_code == 200
    assert server_names == ["receiver.test"]


async def test_tls_certificate_for_another_name_is_rejected(tmp_path: Path) -> None:
    server_tls, client_tls = _tls_contexts(tmp_path, "other.test", [])
    resolver = _resolver({"receiver.test": ["127.0.0.1"]})
    transport = GuardedTransport(dev_hosts=frozenset({"receiver.test"}), resolver=resolver, ssl_context=client_tls)
    async with _serve(server_tls) as server, httpx.AsyncClient(transport=transport, trust_env=False) as client:
        with pytest.raises(httpx.ConnectError, match="certificate verify failed") as caught:
            await client.post(f"https://receiver.test:{server.port}/hook", content=b"{}")
    assert not is_unsafe_url_error(caught.value)
    assert server.requests == []
