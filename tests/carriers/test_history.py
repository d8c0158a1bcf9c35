"""Reading a normalized history for the result (`app.carriers.history`)."""

from __future__ import annotations

from app.carriers.history import HANDED_OVER, latest_known_status, sign_latest
from app.carriers.types import TrackingEvent
from app.carriers.types import TrackingStatus as S
from tests.carriers.helpers import utc


def _event(status: S, minute: int, signed_by: str | None = None) -> TrackingEvent:
    return TrackingEvent(occurred_at=utc(f"2024-05-01T10:{minute:02d}:00"), status=status, signed_by=signed_by)


def test_latest_known_status() -> None:
    assert latest_known_status([]) is None
    assert latest_known_status([_event(S.IN_TRANSIT, 1), _event(S.UNKNOWN, 2)]) is None
    assert latest_known_status([_event(S.UNKNOWN, 1), _event(S.DELIVERED, 2)]) is S.DELIVERED


def test_sign_latest_signs_the_newest_handover() -> None:
    events = [_event(S.DELIVERED, 1), _event(S.RETURN_TO_SENDER, 2), _event(S.RETURNED, 3), _event(S.EXCEPTION, 4)]
    signed = sign_latest(events, "J. SMITH")
    assert [e.signed_by for e in signed] == [None, None, "J. SMITH", None]
    assert events[2].signed_by is None  # the input is not changed


def test_sign_latest_without_signer_or_handover() -> None:
    events = [_event(S.IN_TRANSIT, 1)]
    assert sign_latest(events, "J. SMITH") == events
    assert sign_latest([_event(S.DELIVERED, 1)], None)[0].signed_by is None
    assert sign_latest([_event(S.DELIVERED, 1)], "")[0].signed_by is None


def test_sign_latest_statuses_and_keep_own() -> None:
    events = [_event(S.DELIVERED, 1), _event(S.RETURNED, 2)]
    only_delivered = sign_latest(events, "A", statuses=frozenset({S.DELIVERED}))
    assert [e.signed_by for e in only_delivered] == ["A", None]
    own = [_event(S.DELIVERED, 1), _event(S.DELIVERED, 2, signed_by="FRONT DOOR")]
    assert [e.signed_by for e in sign_latest(own, "B", keep_own=True)] == [None, "FRONT DOOR"]
    assert [e.signed_by for e in sign_latest(own, "B")] == [None, "B"]
    assert HANDED_OVER == {S.DELIVERED, S.RETURNED}
