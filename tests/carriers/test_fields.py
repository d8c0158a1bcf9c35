"""Shared readers of carrier reply fields (`app.carriers.fields`, `parse_optional_datetime`)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from app.carriers.fields import code_message_pairs, code_message_text, compact_id, text_of
from app.carriers.timezones import parse_optional_datetime
from tests.carriers.helpers import utc


def test_text_of() -> None:
    assert text_of(None) is None
    assert text_of("") is None
    assert text_of("  ") is None
    assert text_of(" MANKATO ") == "MANKATO"
    assert text_of(21) == "21"


def test_compact_id() -> None:
    assert compact_id(" ab 12\t34 ") == "AB1234"
    assert compact_id(None) == ""
    assert compact_id(7777777770) == "7777777770"


def test_code_message_pairs() -> None:
    items = [{"code": "TW0001", "message": "Tracking Information Not Found"}, {"code": 400}, "junk", {}]
    assert code_message_pairs(items) == [("TW0001", "Tracking Information Not Found"), ("400", ""), ("", "")]
    assert code_message_pairs(None) == []
    assert code_message_pairs({"code": "X"}) == []


def test_code_message_text() -> None:
    pairs = [("TW0001", "Tracking Information Not Found"), ("", "no code"), ("151018", None)]
    assert code_message_text(pairs) == "TW0001: Tracking Information Not Found; no code; 151018"
    assert code_message_text([]) == ""


def test_parse_optional_datetime() -> None:
    oslo = ZoneInfo("Europe/Oslo")
    assert parse_optional_datetime("2010-09-30T08:27:08+02:00") == utc("2010-09-30T06:27:08")
    assert parse_optional_datetime("2019-03-16T14:58:48+0000", zone=oslo) == utc("2019-03-16T14:58:48")
    assert parse_optional_datetime("2021-03-29T14:05:00", zone=ZoneInfo("Europe/Stockholm")) == utc(
        "2021-03-29T12:05:00"
    )
    assert parse_optional_datetime("2021-03-29T14:05:00") == utc("2021-03-29T14:05:00")  # no zone: UTC
    assert parse_optional_datetime(None, zone=oslo) is None
    assert parse_optional_datetime("  ", zone=oslo) is None
    assert parse_optional_datetime("30.09.2010", zone=oslo) is None
