"""Problems of API keys (app/auth)."""

from __future__ import annotations

from app.core.problems import NotFound


class ApiKeyNotFound(NotFound):
    """The API key id in the path names no key of this tenant."""
