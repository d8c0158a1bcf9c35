"""/v1/rates and /v1/recommendations: price a shipment with every connected carrier, and rank the options."""

from __future__ import annotations

from app.analytics import rates, recommendation, tenant_settings
from app.analytics.errors import NoRatingCarrier
from app.analytics.schemas import RatesOut, RatesRequest, RecommendationRequest, RecommendationsOut
from app.api.deps import AppSettings, CallsOut, Cipher, Db, MerchantOrAdmin
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.carriers.deps import Http
from app.core.db.base import utcnow
from app.core.problems import CredentialsEncryptionUnconfigured, problem_responses

router = PipelineRouter(tags=["rates"])


@router.post(
    "/v1/rates",
    response_model=RatesOut,
    summary="Rates of every connected carrier",
    responses=problem_responses(PIPELINE_PROBLEMS, NoRatingCarrier, CredentialsEncryptionUnconfigured),
)
async def get_rates(
    body: RatesRequest, principal: MerchantOrAdmin, _: CallsOut, db: Db, settings: AppSettings, http: Http, cipher: Cipher
) -> RatesOut:
    """Ask every active integration whose carrier offers rating (FedEx Rate API, UPS Rating API, DHL Express MyDHL
    API `POST /rates`, Bring Shipping Guide API v2; or only
    `carriers`) at once, each within RATES_DEADLINE_SECONDS. Per service: carrier, service, price (minor units +
    currency), promised transit days and/or delivery date, cheapest first. A carrier that failed or timed out is
    one entry of `errors` (`type` e.g. `carrier-unavailable`, `carrier-rejected`, `carrier-timeout`,
    `integration-required`); the others still answer. 422 `carrier-cannot-rate` for a `carriers` entry that cannot rate.
    """
    result = await rates.rate(db=db, settings=settings, http=http, cipher=cipher, tenant_id=principal.tenant, body=body)
    return RatesOut(rates=result.rates, errors=result.errors)


@router.post(
    "/v1/recommendations",
    response_model=RecommendationsOut,
    summary="Rank the rated options",
    responses=problem_responses(PIPELINE_PROBLEMS, NoRatingCarrier, CredentialsEncryptionUnconfigured),
)
async def recommend(
    body: RecommendationRequest, principal: MerchantOrAdmin, _: CallsOut, db: Db, settings: AppSettings, http: Http,
    cipher: Cipher,
) -> RecommendationsOut:
    """The rates of `POST /v1/rates` ranked by a score (0-1) of price, promised transit time and this tenant's
    own measured on-time rate and average rating on the lane (destination country + service), weighted by
    `weights` (else the tenant's settings, else the defaults). Each option shows the figures behind its score and
    how many shipments they rest on; a lane with too little history says so (`history.sufficient: false`)."""
    result = await rates.rate(db=db, settings=settings, http=http, cipher=cipher, tenant_id=principal.tenant, body=body)
    destination = body.recipient.country
    async with db.transaction(principal.tenant) as session:
        weights = body.weights or (
            await tenant_settings.effective(session=session, tenant_id=principal.tenant, settings=settings)
        ).recommendation_weights
        lanes = await recommendation.lane_histories(
            session=session, tenant_id=principal.tenant, rates=result.rates, destination=destination, now=utcnow()
        )
    options = recommendation.rank(rates=result.rates, lanes=lanes, destination=destination, weights=weights, settings=settings)
    return RecommendationsOut(weights=weights, options=options, errors=result.errors)
