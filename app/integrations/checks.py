"""Testing an integration's stored credentials at its carrier (POST /v1/integrations/{id}/test, and the console's button)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.carriers.errors import CapabilityNotSupported, CarrierError
from app.carriers.http import CarrierHttp
from app.core.config import Settings
from app.core.crypto import CredentialsCipher
from app.integrations import service
from app.integrations.adapters import AdapterSpec, build_adapter, carrier_problem
from app.integrations.models import Integration

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckOutcome:
    """The test's result as recorded on the integration: `status` ok/failed, the carrier's message and problem type."""

    integration: Integration
    status: str
    error: str | None
    error_type: str | None


async def test_connection(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    settings: Settings,
    cipher: CredentialsCipher,
    http: CarrierHttp,
) -> CheckOutcome:
    """Make the carrier's cheapest authenticated call with the stored credentials and record the outcome
    (last_check_status / last_checked_at / last_error) on the integration.

    `session` is committed before the carrier call (no transaction is held while it answers); the outcome is
    written in a new transaction of the same session, which the caller commits. A carrier error is the test's
    result (`failed`), not an exception. Raises 404 `not-found`, the stored-credentials 422s, and 501
    `capability-not-supported` when the carrier offers no credentials test.
    """
    spec = AdapterSpec.of(await service.get_or_404(session=session, tenant_id=tenant_id, integration_id=integration_id), cipher)
    await session.commit()
    adapter = build_adapter(spec=spec, settings=settings, http=http)
    status, error, error_type = "ok", None, None
    try:
        await adapter.test_credentials()
    except CapabilityNotSupported as exc:
        raise carrier_problem(exc) from None
    except CarrierError as exc:
        logger.info("integration %s test failed: %s", integration_id, exc)
        status, error, error_type = "failed", exc.message, exc.problem_type
    row = await service.get_or_404(session=session, tenant_id=tenant_id, integration_id=integration_id, for_update=True)
    row = await service.record_check(session=session, integration=row, status=status, error=error)
    return CheckOutcome(integration=row, status=status, error=error, error_type=error_type)
