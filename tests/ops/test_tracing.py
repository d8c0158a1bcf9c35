"""OpenTelemetry (OTEL_EXPORTER_OTLP_ENDPOINT): a carrier call and a webhook delivery are spans under their cause.

Spans go to a real local OTLP/HTTP receiver (the collector is the outside
world here) and, for the assertions, to an in-memory exporter. Tracing is
process-wide, so the module switches it off again at the end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import respx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from app.core import tracing
from tests.conftest import client_of, running_app
from tests.labels.test_labels import SHIP, booking, connect, sample, serve_token
from tests.webhooks.conftest import dev_app, dev_settings, make_sender, receiver  # noqa: F401 - fixtures
from tests.webhooks.helpers import create_endpoint, drain, record_event


class _Collector(BaseHTTPRequestHandler):
    posts: list[tuple[str, int]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("content-length", 0))
        self.rfile.read(length)
        type(self).posts.append((self.path, length))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def collector() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def spans(collector: str, settings) -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    assert tracing.configure_tracing(
        settings.model_copy(update={"otel_exporter_otlp_endpoint": collector}), service_name="courier-hub-test", exporter=memory
    )
    yield memory
    tracing.disable()


def ancestors(span: Any, by_id: dict[int, Any]) -> list[Any]:
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


async def test_tracing_is_off_without_the_endpoint(settings):
    assert settings.otel_exporter_otlp_endpoint is None
    assert tracing.configure_tracing(settings, service_name="x") is False


async def test_a_carrier_call_is_a_span_under_the_request(spans, collector, dev_settings, owner_db, make_tenant):
    traced = dev_settings.model_copy(update={"otel_exporter_otlp_endpoint": collector})
    acme = await make_tenant("acme")
    async with running_app(traced) as application:
        async with client_of(application) as api:
            await connect(api, acme)
            spans.clear()
            with respx.mock(assert_all_called=False) as carrier:
                serve_token(carrier)
                carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
                booked = await api.post("/v1/labels", json=booking(), headers=acme.headers(**{"Idempotency-Key": "t-1"}))
    assert booked.status_code == 201, booked.text
    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    call = next(s for s in finished if s.name == "carrier fedex create_shipment")
    assert call.attributes["carrier.code"] == "fedex"
    server = [s for s in ancestors(call, by_id) if s.kind is SpanKind.SERVER]
    assert server and server[-1].name == "POST /v1/labels"
    assert {s.context.trace_id for s in finished if s.name.startswith("carrier fedex")} == {call.context.trace_id}
    assert any(s.kind is SpanKind.CLIENT and s.attributes.get("db.system", s.attributes.get("db.system.name")) == "postgresql"
               and s.context.trace_id == call.context.trace_id for s in finished)  # SQL spans of the same request
    tracing.shutdown()
    assert any(path == "/v1/traces" and size > 0 for path, size in _Collector.posts)  # exported over OTLP/HTTP


async def test_a_webhook_delivery_is_a_span_holding_its_http_attempt(spans, dev_app, receiver, make_sender, app_db, make_tenant):  # noqa: F811
    acme = await make_tenant("acme")
    async with client_of(dev_app) as api:
        await create_endpoint(api, acme, receiver.url("a"))
    await record_event(app_db, acme.id)
    spans.clear()
    rows = await drain(make_sender(), app_db, acme.id)
    assert [r.status for r in rows] == ["succeeded"]
    finished = spans.get_finished_spans()
    delivery = next(s for s in finished if s.name == "webhook.delivery")
    assert delivery.attributes["webhook.delivery_id"] == str(rows[0].id)
    assert delivery.attributes["tenant.id"] == str(acme.id)
    posts = [s for s in finished if s.kind is SpanKind.CLIENT and s.parent is not None
             and s.parent.span_id == delivery.context.span_id and s.name.startswith("POST")]
    assert len(posts) == 1
