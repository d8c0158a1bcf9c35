"""The return leg of a history (`app.carriers.returns`)."""

from __future__ import annotations

from app.carriers.returns import NONE_CARRIED_BACK, RETURN_STATUSES, ReturnLeg, delivered_back
from app.carriers.types import TrackingStatus as S


def _read(statuses: list[S], leg: ReturnLeg) -> list[S]:
    return [leg.apply(status) for status in statuses]


def test_before_a_return_statuses_are_kept() -> None:
    history = [S.INFO_RECEIVED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED]
    leg = ReturnLeg()
    assert _read(history, leg) == history
    assert leg.returning is False


def test_after_a_return_moves_are_the_way_back_and_a_delivery_is_returned() -> None:
    history = [S.IN_TRANSIT, S.RETURN_TO_SENDER, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.AVAILABLE_FOR_PICKUP, S.DELIVERED]
    leg = ReturnLeg()
    assert _read(history, leg) == [
        S.IN_TRANSIT,
        S.RETURN_TO_SENDER,
        S.RETURN_TO_SENDER,
        S.RETURN_TO_SENDER,
        S.AVAILABLE_FOR_PICKUP,  # a pickup notice for the sender is kept
        S.RETURNED,
    ]
    assert leg.returning is True


def test_carriers_whose_return_scans_keep_their_status() -> None:
    history = [S.RETURN_TO_SENDER, S.IN_TRANSIT, S.EXCEPTION, S.DELIVERED]
    assert _read(history, ReturnLeg(carried_back=NONE_CARRIED_BACK)) == [
        S.RETURN_TO_SENDER,
        S.IN_TRANSIT,
        S.EXCEPTION,
        S.RETURNED,
    ]


def test_delivered_back() -> None:
    assert delivered_back(S.DELIVERED, returning=True) is S.RETURNED
    assert delivered_back(S.DELIVERED, returning=False) is S.DELIVERED
    assert delivered_back(S.IN_TRANSIT, returning=True) is S.IN_TRANSIT


def test_return_statuses() -> None:
    assert RETURN_STATUSES == {S.RETURN_TO_SENDER, S.RETURNED}
