"""Reading loosely typed fields of carrier JSON replies.

Carriers pad absent values with "" or null, send numbers where their
documents say string, and spell identifiers with spaces or in lower case.
These helpers give every adapter the same reading of such fields; which
field means what stays in each adapter module, next to the carrier document
it follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def text_of(value: Any) -> str | None:
    """`str(value)` stripped; None when the value is None or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def compact_id(value: Any) -> str:
    """An identifier for comparison: all whitespace removed, upper case ("" for None or blank)."""
    return "".join(str(value or "").split()).upper()


def code_message_pairs(items: Any) -> list[tuple[str, str]]:
    """The `(code, message)` of each `{code, message}` object in a list (absent parts give "").

    Anything that is not a list gives []; list items that are not objects are skipped.
    """
    if not isinstance(items, list):
        return []
    return [(str(e.get("code") or ""), str(e.get("message") or "")) for e in items if isinstance(e, Mapping)]


def code_message_text(pairs: Iterable[tuple[str | None, str | None]]) -> str:
    """`"code: message; code: message"` of `(code, message)` pairs, for exception messages and logs.

    A blank part is left out of its pair ("message" alone, "code" alone); "" for no pairs.
    """
    return "; ".join(": ".join(part for part in pair if part) for pair in pairs)
