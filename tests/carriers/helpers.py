"""Helpers shared by the courier adapter tests: carrier samples, UTC times, token endpoints, event rows.

The samples are the carrier-published files in `../shared/carrier-samples/<carrier>/`
next to the repository (each with a `.source.txt` naming the carrier document
it comes from); a test that needs a missing sample is skipped, not failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from operator import attrgetter
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.carriers.types import TrackingResult

SAMPLES_ROOT = Path(__file__).resolve().parents[3] / "shared" / "carrier-samples"


def sample_path(carrier: str, name: str) -> Path:
    """The path of one carrier sample; skips the test when the shared samples are not checked out."""
    path = SAMPLES_ROOT / carrier / name
    if not path.is_file():
        pytest.skip(f"{carrier} sample {path} missing (expected ../shared/carrier-samples next to the repo)")
    return path


def load_json_sample(carrier: str, name: str) -> Any:
    """One carrier sample parsed as JSON (see `sample_path`)."""
    return json.loads(sample_path(carrier, name).read_text(encoding="utf-8"))


def utc(text: str) -> datetime:
    """An ISO 8601 wall-clock time read as UTC ("2024-08-20T16:41:57")."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


class SleepRecorder:
    """Stands in for asyncio.sleep in CarrierHttp: records each wait tenacity computed, sleeps 0 s."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def numbered_tokens(**fields: Any) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect for an OAuth token endpoint: replies carry access tokens tok-1, tok-2, ...

    `fields` are the other members of each reply (token_type, expires_in, ...).
    """
    issued = 0

    def respond(request: httpx.Request) -> httpx.Response:
        nonlocal issued
        issued += 1
        return httpx.Response(200, json={"access_token": f"tok-{issued}", **fields})

    return respond


EVENT_COLUMNS: tuple[str, ...] = (
    "occurred_at",
    "status",
    "carrier_code",
    "description",
    "location.city",
    "location.postal_code",
    "location.country",
)


def event_rows(result: TrackingResult, columns: Sequence[str] = EVENT_COLUMNS) -> list[tuple[Any, ...]]:
    """The events of `result` as tuples of the given (dotted) attributes, oldest first."""
    getters = [attrgetter(column) for column in columns]
    return [tuple(get(event) for get in getters) for event in result.events]


def load_yaml_12(text: str) -> Any:
    """PyYAML with YAML 1.2 integers: "021" stays a string instead of becoming octal 17."""
    yaml = pytest.importorskip("yaml")

    class Yaml12Loader(yaml.SafeLoader):
        pass

    Yaml12Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:int"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Yaml12Loader.add_implicit_resolver(
        "tag:yaml.org,2002:int", re.compile(r"^[-+]?(0|[1-9][0-9]*)$"), list("-+0123456789")
    )
    return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 - SafeLoader subclass
