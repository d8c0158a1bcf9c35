"""Rendering console pages: Jinja2 templates (autoescaped), the console CSP on every page, the navigation.

A new page is one template that `{% extends "base.html" %}` and one route that
returns `render(request, "<name>.html", user, active="<nav key>", ...)`; a
new top-level page also adds a `NavItem` to `NAV` (its `roles` hide it from
keys that cannot open it, the route's `Viewer`/`Manager`/`Operator` enforces it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.console.security import AUDITOR_ROLES, CONSOLE_CSP, ConsoleUser

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")


@dataclass(frozen=True)
class NavItem:
    """One entry of the console's navigation."""

    key: str
    title: str
    path: str
    roles: tuple[str, ...]


TENANT = ("tenant_admin", "merchant")
NAV: list[NavItem] = [
    NavItem("overview", "Overview", "/console/overview", TENANT),
    NavItem("orders", "Orders", "/console/orders", TENANT),
    NavItem("shipments", "Shipments", "/console/shipments", TENANT),
    NavItem("labels", "Labels", "/console/labels", TENANT),
    NavItem("carriers", "Carriers", "/console/carriers", TENANT),
    NavItem("webhooks", "Webhooks", "/console/webhooks", TENANT),
    NavItem("analytics", "Analytics", "/console/analytics", TENANT),
    NavItem("reviews", "Reviews", "/console/reviews", TENANT),
    NavItem("keys", "API keys", "/console/api-keys", ("tenant_admin",)),
    NavItem("admin", "Admin", "/console/admin", ("platform_admin",)),
    NavItem("audit", "Audit log", "/console/audit-log", AUDITOR_ROLES),
]
"""The navigation, in order."""


def when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp in UTC for tables (`-` for none)."""
    if value is None:
        return "-"
    return value.astimezone(timezone.utc).strftime(fmt) + " UTC"


def money(cents: int | None, currency: str | None = None) -> str:
    """Minor units as a decimal amount with the currency code (`-` for none)."""
    if cents is None:
        return "-"
    return f"{cents / 100:,.2f} {currency or ''}".strip()


def query(request: Request, **changes: Any) -> str:
    """The current query string with `changes` applied (None removes a parameter; repeated ones such as
    `group_by` are kept), for pagination and export links."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    params += [(key, str(value)) for key, value in changes.items() if value is not None]
    return "?" + urlencode(params) if params else ""


def percent(rate: float | None) -> str:
    """A rate in [0, 1] as a percentage with one decimal (`-` for none)."""
    return "-" if rate is None else f"{rate * 100:.1f} %"


def hours(value: float | None) -> str:
    """Fractional hours with one decimal and the unit (`-` for none)."""
    return "-" if value is None else f"{value:.1f} h"


templates.env.filters["when"] = when
templates.env.filters["percent"] = percent
templates.env.filters["hours"] = hours
templates.env.filters["money"] = money
templates.env.globals["query"] = query


def render(
    request: Request, name: str, user: ConsoleUser | None, *, status_code: int = 200, active: str = "", **context: Any
) -> HTMLResponse:
    """Render template `name` with the user, its CSRF token and the navigation it may see, under the console CSP."""
    nav = [item for item in NAV if user is not None and user.role in item.roles]
    response = templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf": user.csrf if user else "", "nav": nav, "active": active, **context},
        status_code=status_code,
    )
    response.headers["content-security-policy"] = CONSOLE_CSP
    return response
