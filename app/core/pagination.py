"""Cursor pagination: keyset on a time-ordered UUIDv7 id, newest first, stable under inserts.

The cursor is the opaque `next_cursor` of the previous page (the last id
seen, base64url); a page holds `limit` items (1-200, default 50).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select

from app.core.problems import InvalidCursor

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of results; pass `next_cursor` as `cursor` to get the next one (null at the end)."""

    data: list[T]
    next_cursor: str | None = None
    has_more: bool = False


class PageParams(BaseModel):
    """Parsed `cursor` and `limit` query parameters."""

    after_id: uuid.UUID | None
    limit: int


def encode_cursor(last_id: uuid.UUID) -> str:
    """Opaque cursor for the item after `last_id`."""
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    """Inverse of `encode_cursor`; InvalidCursor 400 for a malformed cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("The cursor is malformed; use `next_cursor` from a previous page.") from exc


def page_params(
    cursor: Annotated[str | None, Query(max_length=64, description="`next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page.")] = 50,
) -> PageParams:
    """FastAPI dependency reading `cursor` and `limit`."""
    return PageParams(after_id=decode_cursor(cursor) if cursor else None, limit=limit)


def paginate_query(stmt: Select[Any], id_column: Any, params: PageParams) -> Select[Any]:
    """Apply keyset order (id DESC), the cursor and limit+1 (to detect `has_more`)."""
    if params.after_id is not None:
        stmt = stmt.where(id_column < params.after_id)
    return stmt.order_by(id_column.desc()).limit(params.limit + 1)


def make_page(items: Sequence[Any], params: PageParams, *, convert: Any) -> dict[str, Any]:
    """Build a Page payload from `limit + 1` fetched rows, converting each with `convert`."""
    has_more = len(items) > params.limit
    items = list(items[: params.limit])
    return {
        "data": [convert(item) for item in items],
        "has_more": has_more,
        "next_cursor": encode_cursor(items[-1].id) if has_more and items else None,
    }
