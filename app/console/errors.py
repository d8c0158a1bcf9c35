"""The console's own problems (rendered as HTML pages under /console, like every other Problem there)."""

from __future__ import annotations

from app.core.problems import Problem


class CsrfRefused(Problem):
    """A console form or htmx request came without the session's CSRF token (or with another one): nothing changed."""

    status = 403
    type_ = "csrf-refused"
    title = "CSRF token missing or wrong"


class SignInRequired(Problem):
    """A console page was asked for without a live session (none, idle too long, expired, or its key revoked):
    the browser is sent to the sign-in page."""

    status = 401
    type_ = "console-sign-in-required"
    title = "Sign in required"
