"""Bring's saved examples for the Bring tests, served through respx, and helpers to build variants of them.

The payloads are the JSON examples of Bring's Tracking API RAML
(bring/developer-site content/api/tracking/examples/*.json @4ce29efa) and
the Event Cast callback example, saved verbatim in
`../shared/carrier-samples/bring/` (each with a `.source.txt`).
"""

from __future__ import annotations

import copy
from functools import partial

import httpx
import respx

from app.carriers.bring.adapter import BringAdapter
from tests.carriers.helpers import load_json_sample

TRACKING_URL = "https://api.bring.com/tracking/api/v2/tracking.json"
CUSTOMERS_URL = "https://api.bring.com/booking/api/customers"

load = partial(load_json_sample, "bring")
"""One Bring sample file parsed as JSON, or skip the test when the shared samples are not checked out."""


async def track_sample(adapter: BringAdapter, sample: str, number: str, *, status_code: int = 200):
    """Serve `sample` as Bring's reply and track `number`; returns (results, the respx route)."""
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(TRACKING_URL).mock(return_value=httpx.Response(status_code, json=load(sample)))
        results = await adapter.track([number])
    return results, route


def events_of(body: dict) -> list[dict]:
    """The first package's eventSet (Bring order: newest first)."""
    return body["consignmentSet"][0]["packageSet"][0]["eventSet"]


def newer_event(body: dict, status: str, description: str, date_iso: str, **fields: str) -> dict:
    """A copy of the newest event of `body` with another status/text/time, put first (newest)."""
    event = copy.deepcopy(events_of(body)[0])
    event.update(status=status, description=description, dateIso=date_iso, **fields)
    event["recipientSignature"] = {"name": ""}
    events_of(body).insert(0, event)
    return event


async def serve_body(adapter: BringAdapter, body: dict, number: str):
    with respx.mock(assert_all_called=True) as mock:
        mock.get(TRACKING_URL).mock(return_value=httpx.Response(200, json=body))
        [result] = await adapter.track([number])
    return result
