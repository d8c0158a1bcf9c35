"""Helpers of the console tests: signing in through the form, reading the CSRF token of a page."""

from __future__ import annotations

import re

import httpx

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a console page."""
    match = CSRF_INPUT.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    """Sign in through the form as a browser would: GET the form (its token and cookie), POST the key."""
    form = await client.get("/console/sign-in")
    return await client.post("/console/sign-in", data={"api_key": key, "csrf_token": csrf_of(form.text), "next": ""})
