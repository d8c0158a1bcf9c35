"""Smaller fixes: problem `type`s are always URIs; 405 `Allow` lists every method of the path."""

from __future__ import annotations

import pytest

from app.core.problems import PROBLEM_BASE, all_problem_classes, problem_response, problem_type_uri


@pytest.mark.parametrize("slug", ["http-error", "https-required", "not-found"])
def test_slugs_that_start_with_http_still_become_uris(slug):
    assert problem_type_uri(slug) == PROBLEM_BASE + slug
    body = problem_response(400, slug, "x").body
    assert f'"type":"{PROBLEM_BASE}{slug}"'.encode() in body


@pytest.mark.parametrize("uri", ["about:blank", "https://example.com/problems/x", "urn:problem:x"])
def test_uris_are_kept(uri):
    assert problem_type_uri(uri) == uri


def test_every_problem_class_type_renders_as_an_absolute_uri():
    for cls in all_problem_classes():
        rendered = problem_type_uri(cls.type_)
        assert rendered.startswith((PROBLEM_BASE, "about:")), (cls, rendered)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("OPTIONS", "/v1/plans", {"GET", "POST"}),
        ("DELETE", "/v1/plans", {"GET", "POST"}),
        ("PUT", "/v1/plans/free", {"PATCH"}),
    ],
)
async def test_405_allow_lists_every_method_of_the_path(client, method, path, expected):
    response = await client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM_BASE + "method-not-allowed"
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert allowed == expected, allowed
    assert method not in allowed
