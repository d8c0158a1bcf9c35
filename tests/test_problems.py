"""Typed problems: one slug has one status (and one title), each class says when it is raised, and they render as RFC 9457."""

from __future__ import annotations

from collections import defaultdict

import httpx
import pytest
from fastapi import FastAPI

import app.main  # noqa: F401 - imports every router, so every domain's errors module
from app.core.problems import (
    PROBLEM_BASE,
    PROBLEM_MEDIA_TYPE,
    PROBLEM_SCHEMA_REF,
    NotFound,
    Problem,
    all_problem_classes,
    install_problem_handlers,
    problem_responses,
)
from app.carriers import errors as carrier_errors
from app.integrations.errors import problem_class_for


def test_one_slug_has_one_status_and_one_title() -> None:
    classes = all_problem_classes()
    assert len(classes) > 40  # every domain's errors module was imported
    statuses: dict[str, set[tuple[int, str]]] = defaultdict(set)
    titles: dict[str, set[str]] = defaultdict(set)
    for cls in classes:
        statuses[cls.type_].add((cls.status, cls.__qualname__))
        titles[cls.type_].add(cls.title)
    conflicts = {slug: owners for slug, owners in statuses.items() if len({status for status, _ in owners}) > 1}
    assert not conflicts, f"slugs with several statuses: {conflicts}"
    assert not {slug: t for slug, t in titles.items() if len(t) > 1}, "RFC 9457: a type's title does not vary"


def test_every_problem_class_says_when_it_is_raised() -> None:
    for cls in all_problem_classes():
        assert "__doc__" in vars(cls) and cls.__doc__, f"{cls.__qualname__} has no docstring of its own"
        assert 400 <= cls.status <= 599 and cls.type_ and cls.title, cls


def test_carrier_errors_map_onto_problems_of_the_same_status_and_slug() -> None:
    for error in (carrier_errors.CarrierError, *_all_subclasses(carrier_errors.CarrierError)):
        problem = problem_class_for(error)
        assert (problem.status, problem.type_) == (error.http_status, error.problem_type), error


def _all_subclasses(cls: type) -> list[type]:
    direct = cls.__subclasses__()
    return direct + [sub for d in direct for sub in _all_subclasses(d)]


class _Teapot(Problem):
    """Raised by the test app below."""

    status = 418
    type_ = "teapot"
    title = "I'm a teapot"


class _NoSuchPot(NotFound):
    """The pot in the path does not exist."""


async def test_a_problem_renders_as_problem_json_with_headers_and_members() -> None:
    api = FastAPI()
    install_problem_handlers(api)

    @api.get("/teapot")
    async def teapot() -> None:
        raise _Teapot("Short and stout.", headers={"Retry-After": "5"}, spout=1)

    @api.get("/pot")
    async def pot() -> None:
        raise _NoSuchPot("No such pot.")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client:
        response = await client.get("/teapot")
        missing = await client.get("/pot")
    assert response.status_code == 418 and response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "type": PROBLEM_BASE + "teapot",
        "title": "I'm a teapot",
        "status": 418,
        "detail": "Short and stout.",
        "spout": 1,
    }
    assert missing.status_code == 404
    assert missing.json()["type"] == PROBLEM_BASE + "not-found" and missing.json()["title"] == NotFound.title


def test_problem_responses_group_classes_by_status() -> None:
    responses = problem_responses(_Teapot, (_NoSuchPot, [NotFound]), _Teapot)
    assert sorted(responses) == [404, 418]
    for response in responses.values():
        assert response["content"] == {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}
    assert responses[404]["description"] == (
        "`not-found`: The pot in the path does not exist.\n\n"
        "`not-found`: The URL (or a resource named in its path) names nothing this caller may see."
    )
    assert responses[418]["description"] == "`teapot`: Raised by the test app below."


@pytest.mark.parametrize("bad", [object(), 42, "not-found", ValueError])
def test_problem_responses_refuse_what_is_not_a_problem(bad: object) -> None:
    with pytest.raises(TypeError):
        problem_responses(bad)  # type: ignore[arg-type]
