"""Problems of labels (`/v1/labels`): bookings, their documents and voids.

Carrier refusals and bookings a carrier cannot take are the carrier problems
of app.integrations.errors (`carrier-rejected` with `carrier_errors`,
`shipment-invalid` with `errors`).
"""

from __future__ import annotations

from app.core.problems import NotFound, Problem


class LabelNotFound(NotFound):
    """The label id in the path names no label of this tenant."""


class LabelDocumentNotFound(NotFound):
    """The label has no document with this index (see the label's `documents`)."""


class LabelBatchNotFound(NotFound):
    """The batch id in the path names no label batch of this tenant."""


class LabelNotVoidable(Problem):
    """The label cannot be voided: the carrier offers no cancel for it, or it is not booked (yet).

    Member `reason`: `carrier-has-no-cancel` or `not-booked`.
    """

    status = 409
    type_ = "label-not-voidable"
    title = "Label not voidable"


class LabelBookingInProgress(Problem):
    """A booking under this Idempotency-Key was recorded but has no outcome yet; it is never sent to the carrier twice.

    Members `label_id` and `outcome_unknown`: true when the carrier call ended without an answer
    (a timeout after sending), so only the carrier's portal can tell whether it booked.
    """

    status = 409
    type_ = "label-booking-in-progress"
    title = "Label booking in progress"


class LabelOutcomeUnknown(Problem):
    """The carrier took the booking request but no answer came back; the label stays `pending` and is never re-sent.

    Member `label_id`. Retrying with the same Idempotency-Key answers 409 `label-booking-in-progress`.
    """

    status = 502
    type_ = "label-outcome-unknown"
    title = "Label outcome unknown"


class ShippingRuleNotFound(NotFound):
    """The shipping rule id in the path names no rule of this tenant."""


class ShippingRuleLimit(Problem):
    """The tenant already has the most shipping rules allowed (app.labels.rules_service.MAX_RULES)."""

    status = 409
    type_ = "shipping-rule-limit"
    title = "Too many shipping rules"
