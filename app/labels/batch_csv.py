"""A CSV of recipients as the items of a label batch: the one reader of `courier-hub labels batch` and the console's upload.

CSV columns (header row required; `examples/label-batch.csv` is a sample):
`reference` (unique per row), `name`, `company`, `address_line1`,
`address_line2`, `address_line3`, `city`, `postal_code`, `state`, `country`
(ISO 3166-1 alpha-2), `phone`, `email`, `weight_grams`, `length_mm`,
`width_mm`, `height_mm`, `service_point_id`, `order_id`. Empty cells are left
out; `reference`, `name`, `address_line1`, `city`, `country` and
`weight_grams` are required. Every row gets the same carrier, service,
shipper and label format.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any

REQUIRED_COLUMNS = ("reference", "name", "address_line1", "city", "country", "weight_grams")
OPTIONAL_COLUMNS = (
    "company", "address_line2", "address_line3", "postal_code", "state", "phone", "email",
    "length_mm", "width_mm", "height_mm", "service_point_id", "order_id",
)


class CsvError(ValueError):
    """The CSV cannot be turned into a batch; `problems` lists `line N: why` for each bad row."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _integer(row: dict[str, str], column: str, line: int, problems: list[str]) -> int | None:
    value = (row.get(column) or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        problems.append(f"line {line}: {column} must be a whole number, not {value!r}")
        return None


def read_items(text: str, *, carrier: str, service: str, shipper: dict[str, Any], label_format: str,
               integration_id: str | None = None) -> list[dict[str, Any]]:
    """The batch items (POST /v1/labels bodies) of a CSV text; raises CsvError listing every bad row."""
    reader = csv.DictReader(io.StringIO(text))
    columns = set(reader.fieldnames or [])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise CsvError([f"header: missing column(s) {', '.join(missing)}"])
    unknown = sorted(columns - set(REQUIRED_COLUMNS) - set(OPTIONAL_COLUMNS))
    if unknown:
        raise CsvError([f"header: unknown column(s) {', '.join(unknown)}"])
    items: list[dict[str, Any]] = []
    problems: list[str] = []
    for line, row in enumerate(reader, start=2):
        cells = {key: (value or "").strip() for key, value in row.items() if key}
        for column in REQUIRED_COLUMNS:
            if not cells.get(column):
                problems.append(f"line {line}: {column} is empty")
        parcel = {"weight_grams": _integer(cells, "weight_grams", line, problems)}
        for dimension in ("length_mm", "width_mm", "height_mm"):
            value = _integer(cells, dimension, line, problems)
            if value is not None:
                parcel[dimension] = value
        recipient = {
            "name": cells.get("name", ""),
            "address_lines": [cells[c] for c in ("address_line1", "address_line2", "address_line3") if cells.get(c)],
            "city": cells.get("city", ""),
            "country": cells.get("country", ""),
        }
        recipient.update({c: cells[c] for c in ("company", "postal_code", "state", "phone", "email") if cells.get(c)})
        item: dict[str, Any] = {
            "reference": cells.get("reference", ""),
            "carrier": carrier,
            "service": service,
            "label_format": label_format,
            "shipper": shipper,
            "recipient": recipient,
            "parcels": [parcel],
        }
        if integration_id:
            item["integration_id"] = integration_id
        for column in ("service_point_id", "order_id"):
            if cells.get(column):
                item[column] = cells[column]
        items.append(item)
    if problems:
        raise CsvError(problems)
    if not items:
        raise CsvError(["the file has no rows"])
    return items


def batch_key(items: list[dict[str, Any]]) -> str:
    """The Idempotency-Key of a batch: the same file and options give the same key (and so the same batch)."""
    digest = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()
    return f"csv-{digest[:40]}"
