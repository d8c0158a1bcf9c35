"""/v1/service-points and /v1/addresses/validate: pickup points near an address, and a carrier's verdict on an address."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from app.api.deps import AppSettings, CallsOut, Cipher, Db, MerchantOrAdmin
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.carriers.deps import Http
from app.carriers.locations import MAX_SERVICE_POINTS, ServicePointQuery
from app.core.problems import CredentialsEncryptionUnconfigured, ValidationFailed, problem_responses
from app.integrations.errors import CARRIER_CALL_PROBLEMS, RESOLVE_PROBLEMS, CarrierRejectedRequest, UnsupportedCarrier
from app.locations import service
from app.locations.errors import AddressValidationNotSupported, ServicePointsNotSupported
from app.locations.schemas import AddressValidateRequest, AddressValidationOut, ServicePointOut, ServicePointsOut

service_points_router = PipelineRouter(prefix="/v1/service-points", tags=["service points"])
addresses_router = PipelineRouter(prefix="/v1/addresses", tags=["addresses"])


def _cache(request: Request) -> service.ServicePointCache:
    return service.shared_cache(request.app.state)


@service_points_router.get(
    "",
    response_model=ServicePointsOut,
    summary="Find pickup points near an address",
    responses=problem_responses(PIPELINE_PROBLEMS, ServicePointsNotSupported, CredentialsEncryptionUnconfigured),
)
async def find_service_points(
    request: Request,
    principal: MerchantOrAdmin,
    _: CallsOut,
    db: Db,
    settings: AppSettings,
    cipher: Cipher,
    http: Http,
    country: Annotated[str, Query(min_length=2, max_length=2, description="ISO 3166-1 alpha-2.")],
    postal_code: Annotated[str, Query(min_length=1, max_length=20)],
    carrier: Annotated[
        list[str], Query(max_length=10, description="Carrier code(s); default: every carrier of the tenant with a locator.")
    ] = [],  # noqa: B006 - FastAPI copies query defaults
    street: Annotated[str | None, Query(max_length=100)] = None,
    city: Annotated[str | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SERVICE_POINTS, description="Points per carrier.")] = 10,
) -> ServicePointsOut:
    """Service points, parcel lockers and post offices near the address, nearest first, from PostNord, Bring, DHL,
    UPS Access Point and FedEx locations (each through the tenant's integration with it).

    A carrier that cannot answer is listed in `errors` (`type`, `status`, `detail`) and the others still answer.
    Answers are cached per carrier and query for SERVICE_POINT_CACHE_SECONDS. Pass a point's `id` as
    `service_point_id` to `POST /v1/labels` with the same carrier.
    """
    try:
        query = ServicePointQuery(country=country, postal_code=postal_code, street=street, city=city, limit=limit)
    except ValueError as exc:
        raise ValidationFailed(
            "The query is not valid; see `errors`.",
            errors=[{"loc": ["query", *err["loc"]], "msg": err["msg"], "type": err["type"]} for err in exc.errors()],  # type: ignore[attr-defined]
        ) from None
    points, failures = await service.find_service_points(
        db=db, tenant_id=principal.tenant, carriers=[c.strip().lower() for c in carrier if c.strip()], query=query,
        settings=settings, cipher=cipher, http=http, cache=_cache(request),
    )
    return ServicePointsOut(data=[ServicePointOut.of(point) for point in points], errors=failures)


@addresses_router.post(
    "/validate",
    response_model=AddressValidationOut,
    summary="Validate an address with a carrier",
    responses=problem_responses(
        PIPELINE_PROBLEMS, AddressValidationNotSupported, UnsupportedCarrier, CarrierRejectedRequest,
        RESOLVE_PROBLEMS, CARRIER_CALL_PROBLEMS, CredentialsEncryptionUnconfigured,
    ),
)
async def validate_address(
    body: AddressValidateRequest,
    principal: MerchantOrAdmin,
    _: CallsOut,
    db: Db,
    settings: AppSettings,
    cipher: Cipher,
    http: Http,
) -> AddressValidationOut:
    """Ask the carrier (UPS street-level validation, FedEx address resolution) whether the address exists:
    `valid`, `classification` (residential / commercial / unknown), normalized `candidates` and the carrier's
    `messages`. Nothing is stored."""
    result = await service.validate_address(
        db=db, tenant_id=principal.tenant, carrier=body.carrier, integration_id=body.integration_id,
        address=body.address, settings=settings, cipher=cipher, http=http,
    )
    return AddressValidationOut.of(body.carrier, result)
