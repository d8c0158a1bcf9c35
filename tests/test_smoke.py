"""The app starts, answers health checks, and errors are problem+json with a request id."""

from __future__ import annotations


async def test_healthz_and_readyz(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["revision"] == ready.json()["head"]


async def test_unknown_route_is_problem_json_with_request_id(client):
    response = await client.get("/v1/nope", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "abc-123"
    body = response.json()
    assert body["status"] == 404 and body["title"] and body["type"].endswith("/not-found")
    assert body["instance"] == "urn:request:abc-123"


async def test_generated_request_id_and_security_headers(client):
    response = await client.get("/healthz")
    assert len(response.headers["x-request-id"]) == 32
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_every_request_is_logged_with_its_request_id(client, caplog):
    import logging

    from app.core.requestid import RequestIdLogFilter

    caplog.set_level(logging.INFO, logger="courier_hub.access")
    caplog.handler.addFilter(RequestIdLogFilter())
    await client.get("/healthz", headers={"X-Request-ID": "log-me-1"})
    records = [r for r in caplog.records if r.name == "courier_hub.access"]
    assert records and records[-1].request_id == "log-me-1"
    assert "GET /healthz 200" in records[-1].getMessage()
