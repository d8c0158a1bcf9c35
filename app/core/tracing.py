"""Optional OpenTelemetry tracing: on only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Then the process exports spans over OTLP/HTTP (`<endpoint>/v1/traces`)
through the official instrumentations: FastAPI (one server span per
request), SQLAlchemy (one span per statement) and httpx (one client span
per HTTP request, carriers and webhook receivers alike). The service's own
spans (`span`, `traced`) wrap a carrier call (`carrier <code> <operation>`)
and a webhook delivery (`webhook.delivery`), so each sits under the request
or worker job that caused it and holds the HTTP attempts it made.

Without the variable every helper here is a no-op (the OpenTelemetry API
without an SDK records nothing). OTEL_SERVICE_NAME and the other standard
OTEL_* variables are read by the SDK as usual.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import trace

try:
    from opentelemetry.sdk.trace import SpanProcessor
except ImportError:  # no SDK: configure_tracing raises TracingUnavailable once the endpoint is set
    SpanProcessor = object  # type: ignore[assignment,misc]

from app.core.config import Settings

logger = logging.getLogger(__name__)

TRACER_NAME = "courier_hub"
_tracer = trace.get_tracer(TRACER_NAME)  # a proxy: it uses the provider set later by configure_tracing
_provider: Any = None
_httpx_instrumented = False

F = TypeVar("F", bound=Callable[..., Any])


class _Gate(SpanProcessor):
    """The span processors of this process behind a switch (`disable` turns it off without shutting them down)."""

    def __init__(self, processors: list[Any]) -> None:
        self.processors = processors
        self.on = True

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.on:
            for processor in self.processors:
                processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: Any) -> None:
        if self.on:
            for processor in self.processors:
                processor.on_end(span)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self.processors)


_gate: _Gate | None = None


class TracingUnavailable(RuntimeError):
    """OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK, exporter or instrumentations are not installed."""


def enabled() -> bool:
    """True once `configure_tracing` turned tracing on in this process."""
    return _provider is not None


def configure_tracing(settings: Settings, *, service_name: str, exporter: Any = None) -> bool:
    """Turn tracing on when OTEL_EXPORTER_OTLP_ENDPOINT is set; returns whether it is on.

    Sets the global tracer provider (service.name `service_name` unless
    OTEL_SERVICE_NAME says otherwise) with a batch OTLP/HTTP exporter to
    `<endpoint>/v1/traces`, and instruments every httpx client of the process.
    `exporter`: an extra span exporter, sent every span at once (tests).
    Calling it again adds only `exporter`. Raises TracingUnavailable when the packages are missing.
    """
    global _provider, _httpx_instrumented
    endpoint = settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as exc:
        raise TracingUnavailable(
            f"OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed ({exc.name}): pip install "
            "opentelemetry-sdk opentelemetry-exporter-otlp-proto-http opentelemetry-instrumentation-fastapi "
            "opentelemetry-instrumentation-sqlalchemy opentelemetry-instrumentation-httpx, or unset the variable"
        ) from exc
    global _gate
    if _provider is None:
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}).merge(Resource.create()))
        _gate = _Gate([BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces"))])
        provider.add_span_processor(_gate)
        trace.set_tracer_provider(provider)
        _provider = trace.get_tracer_provider()
        logger.info("tracing: spans of %s exported to %s", service_name, endpoint)
    if _gate is None:
        raise RuntimeError("tracing: the span gate was not installed")
    _gate.on = True
    if not _httpx_instrumented:
        HTTPXClientInstrumentor().instrument(tracer_provider=_provider)
        _httpx_instrumented = True
    if exporter is not None:
        _gate.processors.append(SimpleSpanProcessor(exporter))
    return True


def instrument_app(app: Any) -> None:
    """FastAPI instrumentation of `app` (a server span per request; /metrics and health probes left out).

    Call while building the app (it adds a middleware); a no-op while tracing is off.
    """
    if not enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, excluded_urls="/metrics,/healthz,/readyz")


def instrument_client(client: Any) -> Any:
    """httpx instrumentation of one client whose transport is not httpx's own (the SSRF-guarded webhook
    client: the process-wide instrumentation wraps only `httpx.AsyncHTTPTransport`); returns `client`.
    A no-op while tracing is off, so call `configure_tracing` before building such clients."""
    if enabled():
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=_provider)
    return client


def instrument_engine(engine: Any) -> None:
    """SQLAlchemy instrumentation of an `AsyncEngine` (its sync core engine); a no-op while tracing is off."""
    if not enabled():
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        # skip_dep_check: the instrumentation declares SQLAlchemy < 2.1; its engine events are those of 2.1 too.
        instrumentor.instrument(engine=engine.sync_engine, tracer_provider=_provider, skip_dep_check=True)
    else:  # instrument() acts once per process; each later engine (a second app in tests) is attached the same way
        instrumentor._instrument(engine=engine.sync_engine, tracer_provider=_provider)  # noqa: SLF001


def shutdown() -> None:
    """Flush the spans still buffered (process exit); tracing stays configured."""
    if _provider is not None:
        _provider.force_flush()


def disable() -> None:
    """Stop exporting (buffered spans flushed first) and uninstrument httpx (tests); `configure_tracing` turns it on again."""
    global _httpx_instrumented
    if _gate is not None:
        _gate.force_flush()
        _gate.on = False
    if _httpx_instrumented:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().uninstrument()
        _httpx_instrumented = False


@contextmanager
def span(name: str, **attributes: str | int | float | bool | None) -> Iterator[Any]:
    """A span named `name` around the block, child of the current one; None-valued attributes are dropped.

    An exception leaving the block is recorded on the span (status ERROR) and re-raised.
    """
    with _tracer.start_as_current_span(name, attributes={k: v for k, v in attributes.items() if v is not None}) as current:
        yield current


def traced(name: str, attributes: Callable[..., dict[str, Any]] | None = None) -> Callable[[F], F]:
    """Decorator: run an async function inside `span(name, **attributes(*args, **kwargs))`."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            with span(name, **(attributes(*args, **kwargs) if attributes else {})):
                return await fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
