"""Structured logs (LOG_FORMAT=json): request id, tenant id and key prefix on every line; unhandled errors as 500s.

Log lines are captured by a real handler with the app's filter and JSON
formatter (`app.core.requestid`), as `configure_logging` installs them.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.requestid import LogContextFilter, bind_principal, bind_request_id, configure_logging, json_formatter, reset_request_id
from tests.conftest import client_of, running_app


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Every INFO+ record of the process as JSON lines in a buffer (root handler as in production)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(LogContextFilter())
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


async def test_a_json_line_carries_the_request_id_tenant_and_key_prefix(client, make_tenant, json_lines):
    acme = await make_tenant("acme")
    response = await client.get("/v1/labels", headers=acme.headers(**{"X-Request-ID": "req-json-1"}))
    assert response.status_code == 200
    access = [r for r in records(json_lines) if r["logger"] == "courier_hub.access" and r["request_id"] == "req-json-1"]
    assert len(access) == 1
    line = access[0]
    assert line["tenant_id"] == str(acme.id)
    assert line["key_prefix"] == "_".join(acme.merchant.split("_", 2)[:2]) and line["key_prefix"].startswith("chub_")
    assert acme.merchant not in json_lines.getvalue()  # never the key itself
    assert line["level"] == "INFO" and "GET /v1/labels 200" in line["message"] and line["timestamp"]


async def test_unauthenticated_lines_have_no_tenant(client, json_lines):
    await client.get("/healthz", headers={"X-Request-ID": "req-json-2"})
    line = next(r for r in records(json_lines) if r["request_id"] == "req-json-2")
    assert line["tenant_id"] == "-" and line["key_prefix"] == "-"


def test_the_context_ends_with_the_request():
    _, token = bind_request_id("ctx-1")
    bind_principal("3f7c0a4e-0000-4000-8000-000000000001", "chub_abcdefgh")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    LogContextFilter().filter(record)
    assert (record.request_id, record.tenant_id, record.key_prefix) == (
        "ctx-1", "3f7c0a4e-0000-4000-8000-000000000001", "chub_abcdefgh"
    )
    reset_request_id(token)
    after = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    LogContextFilter().filter(after)
    assert (after.request_id, after.tenant_id, after.key_prefix) == ("-", "-", "-")


def test_configure_logging_json_writes_one_object_per_line(capsys):
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", "json")
        logging.getLogger("courier_hub.test").info("hello %s", "world")
        configure_logging("INFO", "text")
        logging.getLogger("courier_hub.test").info("plain")
    finally:
        root.handlers[:], root.level = saved, level
    lines = capsys.readouterr().err.splitlines()
    first = json.loads(lines[0])
    assert first["message"] == "hello world" and first["logger"] == "courier_hub.test" and first["request_id"] == "-"
    assert "INFO [-] courier_hub.test: plain" in lines[1]


async def test_an_unhandled_error_is_a_500_problem_with_the_request_id_and_a_logged_traceback(settings, owner_db, json_lines):
    async with running_app(settings) as application:

        async def boom() -> None:
            raise RuntimeError("kaboom")

        application.add_api_route("/boom", boom, methods=["GET"])
        async with client_of(application) as c:
            response = await c.get("/boom", headers={"X-Request-ID": "req-500"})
            after = await c.get("/healthz")  # the app still answers
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "req-500"
    assert response.headers["x-content-type-options"] == "nosniff"
    body = response.json()
    assert body["type"].endswith("/internal-error") and body["instance"] == "urn:request:req-500"
    assert "kaboom" not in response.text and "Traceback" not in response.text
    assert after.status_code == 200
    errors = [r for r in records(json_lines) if r["level"] == "ERROR" and r["request_id"] == "req-500"]
    assert len(errors) == 1
    assert "RuntimeError: kaboom" in errors[0]["exc_info"] and "Traceback" in errors[0]["exc_info"]
    assert sys.exc_info() == (None, None, None)
