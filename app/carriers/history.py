"""Reading a normalized tracking history (events oldest first) for the result: its status and who signed.

Carriers give the signer once per parcel (FedEx `deliveryDetails`, UPS
`deliveryInformation.receivedBy`, DHL `proofOfDelivery.signed`) or per event
(Bring, PostNord); either way it belongs to an event where the parcel was
handed over (`HANDED_OVER`). Which field holds the signer is the carrier's.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.carriers.types import TrackingEvent, TrackingStatus

HANDED_OVER = frozenset({TrackingStatus.DELIVERED, TrackingStatus.RETURNED})
"""Statuses of a parcel handed over (to the recipient, or back to the sender): the events a signer belongs to."""


def latest_known_status(events: Sequence[TrackingEvent]) -> TrackingStatus | None:
    """The newest event's status, or None when there is no event or the newest is UNKNOWN (the caller's fallback decides)."""
    if events and events[-1].status is not TrackingStatus.UNKNOWN:
        return events[-1].status
    return None


def sign_latest(
    events: Sequence[TrackingEvent],
    signer: str | None,
    *,
    statuses: frozenset[TrackingStatus] = HANDED_OVER,
    keep_own: bool = False,
) -> list[TrackingEvent]:
    """`events` with `signer` as `signed_by` of the newest event whose status is in `statuses`.

    No signer, or no such event, gives the events unchanged (as a new list).
    `keep_own`: an event that already names its signer keeps it (no older
    event is signed instead).
    """
    signed = list(events)
    if not signer:
        return signed
    for index in range(len(signed) - 1, -1, -1):
        if signed[index].status in statuses:
            if not (keep_own and signed[index].signed_by is not None):
                signed[index] = signed[index].model_copy(update={"signed_by": signer})
            break
    return signed
