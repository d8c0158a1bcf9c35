"""Problems of tenants (app/tenants)."""

from __future__ import annotations

from app.core.problems import NotFound, Problem


class TenantNotFound(NotFound):
    """The tenant id in the path names no tenant this key may manage."""


class SlugTaken(Problem):
    """Another tenant already has this `slug`."""

    status = 409
    type_ = "slug-taken"
    title = "Slug taken"


class TenantDeleted(Problem):
    """The tenant is deleted (its rows are being or were erased): it cannot be changed or reactivated."""

    status = 409
    type_ = "tenant-deleted"
    title = "Tenant deleted"
