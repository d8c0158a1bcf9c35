"""`POST /v1/recommendations`: the rates of `POST /v1/rates`, ranked by price, promise and this tenant's own record.

Each option's score is the weighted mean of up to four component scores in [0, 1]:

* price: cheapest price / this price, among options in the same currency;
* transit: fastest promised transit days / these days (options without a promise: no transit score);
* on_time: the tenant's measured on-time rate on the lane (carrier service to
  the destination country, shipped in the last 365 days), used only when at
  least RECOMMENDATION_MIN_SHIPMENTS delivered shipments with a promise stand behind it;
* rating: (average rating - 1) / 4 on the lane, from at least RECOMMENDATION_MIN_REVIEWS reviews.

A component without its figure is left out and the remaining weights are
renormalised; the option's `history` says how much history there is and,
when too little, says so (`sufficient: false`, `note`) instead of guessing.
Weights come from the request, else the tenant's analytics settings, else the defaults.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import queries
from app.analytics.schemas import History, RateOut, RecommendationOption, ScoreComponent, Weights
from app.core.config import Settings

HISTORY_DAYS = 365


def _ratio(best: float | None, value: float | None) -> float | None:
    if best is None or value is None or value <= 0:
        return None
    return min(1.0, best / value)


def _history(lane: queries.LaneHistory | None, settings: Settings) -> History:
    lane = lane or queries.LaneHistory(0, 0, 0, None, None, 0)
    on_time_ok = lane.on_time_basis >= settings.recommendation_min_shipments
    rating_ok = lane.review_count >= settings.recommendation_min_reviews
    notes = []
    if not on_time_ok:
        notes.append(
            f"too little history for an on-time rate: {lane.on_time_basis} delivered shipment(s) with a promise on this lane "
            f"(needs {settings.recommendation_min_shipments})"
        )
    if not rating_ok:
        notes.append(f"too few reviews for a rating: {lane.review_count} (needs {settings.recommendation_min_reviews})")
    return History(
        shipments=lane.shipments,
        delivered_with_promise=lane.on_time_basis,
        on_time_rate=lane.on_time_rate if on_time_ok else None,
        review_count=lane.review_count,
        average_rating=lane.average_rating if rating_ok else None,
        sufficient=on_time_ok,
        note="; ".join(notes) or None,
    )


def rank(
    *, rates: list[RateOut], lanes: dict[tuple[str, str, str | None], queries.LaneHistory], destination: str,
    weights: Weights, settings: Settings,
) -> list[RecommendationOption]:
    """The options best first (ties: cheaper, then carrier and service), each with its components and history."""
    cheapest: dict[str, int] = {}
    for rate in rates:
        cheapest[rate.price.currency] = min(cheapest.get(rate.price.currency, rate.price.amount), rate.price.amount)
    promised = [r.transit_days for r in rates if r.transit_days]
    fastest = min(promised) if promised else None
    scored: list[tuple[float, RateOut, dict[str, ScoreComponent], History]] = []
    for rate in rates:
        history = _history(lanes.get((rate.carrier, rate.service, destination)), settings)
        components = {
            "price": ScoreComponent(
                weight=weights.price, value=rate.price.amount, score=_ratio(cheapest[rate.price.currency], rate.price.amount),
                basis=f"{rate.price.amount} {rate.price.currency} (cheapest {cheapest[rate.price.currency]})",
            ),
            "transit": ScoreComponent(
                weight=weights.transit, value=rate.transit_days, score=_ratio(fastest, rate.transit_days),
                basis=f"{rate.transit_days} promised day(s) (fastest {fastest})" if rate.transit_days else "no promise given",
            ),
            "on_time": ScoreComponent(
                weight=weights.on_time, value=history.on_time_rate, score=history.on_time_rate,
                basis=f"{history.delivered_with_promise} delivered shipment(s) with a promise on {rate.carrier} "
                f"{rate.service} to {destination}, last {HISTORY_DAYS} days",
            ),
            "rating": ScoreComponent(
                weight=weights.rating, value=history.average_rating,
                score=None if history.average_rating is None else (history.average_rating - 1) / 4,
                basis=f"{history.review_count} review(s) on this lane",
            ),
        }
        used = [c for c in components.values() if c.score is not None and c.weight > 0]
        total = sum(c.weight for c in used)
        score = sum(c.weight * c.score for c in used) / total if total else 0.0  # type: ignore[operator]
        scored.append((round(score, 6), rate, components, history))
    scored.sort(key=lambda item: (-item[0], item[1].price.amount, item[1].carrier, item[1].service))
    return [
        RecommendationOption(rank=i + 1, score=score, rate=rate, components=components, history=history)
        for i, (score, rate, components, history) in enumerate(scored)
    ]


async def lane_histories(
    *, session: AsyncSession, tenant_id: uuid.UUID, rates: list[RateOut], destination: str, now: datetime
) -> dict[tuple[str, str, str | None], queries.LaneHistory]:
    """The tenant's history of each rated lane over the last HISTORY_DAYS days (one query)."""
    lanes = list(dict.fromkeys((r.carrier, r.service, destination) for r in rates))
    return await queries.lane_history(
        session=session, tenant_id=tenant_id, lanes=lanes, start=now - timedelta(days=HISTORY_DAYS), end=now + timedelta(days=1)
    )
