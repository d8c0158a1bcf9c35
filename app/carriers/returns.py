"""The return leg of a tracking history: a parcel sent back to its sender, and its delivery there.

Every carrier has a status for "sent back, on its way to the sender"
(normalized RETURN_TO_SENDER, not final) and, after it, scans a reader would
take for the outbound journey. `ReturnLeg` reads a history oldest first and
applies the rule all carriers share: once a return has started, a delivery is
the delivery back to the sender (RETURNED, final). Carriers whose later scans
are all on the way back (Bring, PostNord) also keep those scans
RETURN_TO_SENDER; which scans is the carrier's parameter (`carried_back`).
The codes and texts that START a return stay in each carrier's `units.py`.
"""

from __future__ import annotations

from app.carriers.types import TrackingStatus

RETURN_STATUSES = frozenset({TrackingStatus.RETURN_TO_SENDER, TrackingStatus.RETURNED})
"""A return under way or done: the carrier's delivery estimate (for the recipient) no longer applies."""
TRANSIT_STATUSES = frozenset({TrackingStatus.INFO_RECEIVED, TrackingStatus.IN_TRANSIT, TrackingStatus.OUT_FOR_DELIVERY})
"""Scans of a parcel moving (or about to): after a return has started, Bring and PostNord send these for the way back."""
NONE_CARRIED_BACK: frozenset[TrackingStatus] = frozenset()
"""`carried_back` for carriers whose scans during a return keep their own status (DHL, FedEx)."""


def delivered_back(status: TrackingStatus, *, returning: bool) -> TrackingStatus:
    """RETURNED for a DELIVERED `status` when `returning` (a return had started), else `status` unchanged."""
    return TrackingStatus.RETURNED if returning and status is TrackingStatus.DELIVERED else status


class ReturnLeg:
    """Reads a history oldest first: once a return is under way, the parcel's moves are the way back.

    After a RETURN_TO_SENDER event, a status in `carried_back` (default
    `TRANSIT_STATUSES`) stays RETURN_TO_SENDER and a DELIVERED is the
    delivery back to the sender (RETURNED). Other statuses (a pickup notice
    for the sender, an exception) are kept as they are. `returning` says
    whether a return has started so far.
    """

    def __init__(self, *, carried_back: frozenset[TrackingStatus] = TRANSIT_STATUSES) -> None:
        self.carried_back = carried_back
        self.returning = False

    def apply(self, status: TrackingStatus) -> TrackingStatus:
        """`status` of the next event as seen on the return leg, if one has started; updates the leg's state."""
        if status is TrackingStatus.RETURN_TO_SENDER:
            self.returning = True
        elif self.returning and status in self.carried_back:
            return TrackingStatus.RETURN_TO_SENDER
        return delivered_back(status, returning=self.returning)
