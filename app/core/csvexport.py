"""CSV exports that are safe to open in a spreadsheet (no formula injection).

A cell whose text starts with `=`, `+`, `-`, `@` (or a tab / carriage return, which
some spreadsheets skip before looking for one) would be run as a formula by Excel,
LibreOffice or Google Sheets. Such text is prefixed with a single quote, as the
OWASP "CSV Injection" guidance recommends; numbers are written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralized(value: Any) -> Any:
    """`value` for a CSV cell: text that a spreadsheet would read as a formula gets a leading `'`; None is ""."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def render_csv(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """`header` and `rows` as CSV text (RFC 4180, CRLF line ends), every cell passed through `neutralized`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralized(name) for name in header])
    writer.writerows([neutralized(cell) for cell in row] for row in rows)
    return buffer.getvalue()
