"""Problems of analytics, reviews, review links, rates and recommendations (app/analytics)."""

from __future__ import annotations

from app.core.problems import NotFound, Problem


class ReviewNotFound(NotFound):
    """The review id in the path names no review of this shipment."""


class ReviewExists(Problem):
    """This shipment already has a review by this author kind: edit it with PATCH instead (`review_id` names it)."""

    status = 409
    type_ = "review-exists"
    title = "Review exists"


class ShipmentNotReviewable(Problem):
    """Only a delivered shipment, or one that failed (failed attempt, exception, returned), can be reviewed."""

    status = 409
    type_ = "shipment-not-reviewable"
    title = "Shipment not reviewable"


class ReviewNotEditable(Problem):
    """A recipient's review is the recipient's: the tenant may hide it (`hidden`), not rewrite it."""

    status = 403
    type_ = "review-not-editable"
    title = "Review not editable"


class ReviewModerationForbidden(Problem):
    """Hiding or showing a review (`hidden`) is for the tenant's admins (a `tenant_admin` key)."""

    status = 403
    type_ = "review-moderation-forbidden"
    title = "Review moderation forbidden"


class ReviewLinkInvalid(NotFound):
    """The review link token is malformed or not signed by this server."""

    type_ = "review-link-not-found"
    title = "Review link not found"


class ReviewLinkExpired(Problem):
    """The review link has expired or was already used: a link takes one review."""

    status = 410
    type_ = "review-link-expired"
    title = "Review link expired"


class InvalidPeriod(Problem):
    """`from` is not before `to`, the period spans more than 3 years, or a bound is outside years 1-9999 in UTC."""

    status = 422
    type_ = "invalid-period"
    title = "Invalid period"


class NoRatingCarrier(Problem):
    """A carrier named in `carriers` is unknown to this server or offers no rating (GET /v1/carriers: capability `rate`)."""

    status = 422
    type_ = "carrier-cannot-rate"
    title = "Carrier cannot rate"



class InvalidGroupBy(Problem):
    """`group_by` names something other than carrier, service, destination_country, origin_country, week, month."""

    status = 422
    type_ = "invalid-group-by"
    title = "Invalid group_by"
