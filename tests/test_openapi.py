"""/openapi.json describes the problem+json error body: a Problem schema, used by every error response."""

from __future__ import annotations

import json

import pytest

from app.core.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA_REF

PUBLIC = {
    ("get", "/v1/plans"),
    ("post", "/v1/billing/stripe/webhook"),
    ("post", "/v1/inbound/{carrier}/{integration_id}"),
    ("post", "/v1/pos/webhooks/{connection_id}"),
    ("post", "/v1/public/reviews/{token}"),
}
"""/v1 operations that take no API key (so no 401/403/429 from the pipeline)."""



@pytest.fixture
async def openapi(client) -> dict:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(openapi: dict):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield method, path, operation


async def test_problem_schema_component(openapi) -> None:
    schema = openapi["components"]["schemas"]["Problem"]
    assert set(schema["required"]) == {"type", "title", "status", "detail"}
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(schema["properties"])
    assert schema["properties"]["errors"]["type"] == "array"


async def test_no_route_references_fastapis_validation_error_shape(openapi) -> None:
    document = json.dumps(openapi)
    assert "HTTPValidationError" not in document
    assert "ValidationError" not in openapi["components"]["schemas"]


async def test_every_error_response_is_problem_json(openapi) -> None:
    for method, path, operation in _operations(openapi):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert response["content"] == {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}, (method, path, status)
                assert response["description"].startswith("`"), (method, path, status)  # "`slug`: when ..."


async def test_authenticated_routes_list_the_pipeline_problems(openapi) -> None:
    missing = set()
    for method, path, operation in _operations(openapi):
        if not path.startswith("/v1/") or (method, path) in PUBLIC:
            continue
        if not {"401", "403", "422", "429"} <= set(operation["responses"]):
            missing.add((method, path))
    assert not missing, sorted(missing)


@pytest.mark.parametrize(
    ("method", "path", "status", "slugs"),
    [
        ("post", "/v1/shipments", "422", ["validation-error", "unsupported-carrier", "order-not-found", "integration-required"]),
        ("post", "/v1/shipments", "402", ["quota-exceeded"]),
        ("get", "/v1/shipments/{shipment_id}", "404", ["not-found"]),
        ("post", "/v1/shipments/{shipment_id}/refresh", "503", ["carrier-rate-limited", "carrier-unavailable"]),
        ("post", "/v1/integrations", "409", ["integration-exists", "idempotency-key-in-flight"]),
        ("post", "/v1/tenants", "409", ["slug-taken"]),
        ("post", "/v1/billing/checkout-session", "422", ["plan-not-found", "return-url-required"]),
        ("post", "/v1/inbound/{carrier}/{integration_id}", "404", ["unknown-carrier", "not-found"]),
        ("post", "/v1/inbound/{carrier}/{integration_id}", "401", ["webhook-signature-invalid"]),
        ("post", "/v1/webhook-endpoints/{endpoint_id}/replay", "422", ["invalid-replay-window", "validation-error"]),
        ("get", "/v1/events", "401", ["unauthorized"]),
        ("get", "/v1/events", "429", ["rate-limited"]),
    ],
)
async def test_routes_list_their_problems(openapi, method: str, path: str, status: str, slugs: list[str]) -> None:
    response = openapi["paths"][path][method]["responses"][status]
    assert PROBLEM_MEDIA_TYPE in response["content"]
    for slug in slugs:
        assert f"`{slug}`" in response["description"], (slug, response["description"])
