"""Reading console forms into the API's request models, and pydantic errors into messages per field."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.core.problems import Problem

ADDRESS_FIELDS = ("name", "company", "line1", "line2", "city", "postal_code", "state", "country", "phone", "email")


def address_from(form: dict[str, str], prefix: str) -> dict[str, Any]:
    """The `Address` body of the fields `<prefix>_name`, `<prefix>_line1`, ... (empty ones left out)."""
    value = {k: (form.get(f"{prefix}_{k}") or "").strip() for k in ADDRESS_FIELDS}
    address: dict[str, Any] = {
        "name": value["name"],
        "address_lines": [line for line in (value["line1"], value["line2"]) if line],
        "city": value["city"],
        "country": value["country"].upper(),
    }
    address.update({k: value[k] for k in ("company", "postal_code", "state", "phone", "email") if value[k]})
    return address


def integer(form: dict[str, str], name: str) -> int | None:
    """The whole number in field `name`, None when empty; a non-number is kept as text for the model to refuse."""
    text = (form.get(name) or "").strip()
    if not text:
        return None
    return int(text) if text.isdigit() else text  # type: ignore[return-value]


def errors_of(exc: ValidationError) -> list[str]:
    """One line per failed field: `recipient.postal_code: Field required`."""
    return [f"{'.'.join(str(p) for p in err['loc']) or 'form'}: {err['msg']}" for err in exc.errors()]


def problem_lines(problem: Problem) -> list[str]:
    """A Problem as lines for a form: its detail, then each field error or carrier message it carries."""
    lines = [problem.detail]
    for err in problem.extensions.get("errors") or []:
        loc = ".".join(str(p) for p in err.get("loc", [])[1:]) if isinstance(err, dict) else ""
        lines.append(f"{loc}: {err.get('msg')}" if isinstance(err, dict) else str(err))
    for message in problem.extensions.get("carrier_errors") or []:
        lines.append(f"carrier: {message.get('message') if isinstance(message, dict) else message}")
    return lines
