"""FastAPI dependencies shared by the integrations and shipments routers."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings, get_settings
from app.couriers.http import CarrierHttp, get_carrier_http
from app.integrations.crypto import CredentialsCipher, CredentialsKeyError, cipher_from_settings
from app.problems import ProblemError

logger = logging.getLogger(__name__)


def carrier_http(request: Request) -> CarrierHttp:
    """`app.state.carrier_http` when the app (or a test) set one, else the process-wide CarrierHttp."""
    http = getattr(request.app.state, "carrier_http", None)
    return http if http is not None else get_carrier_http()


def credentials_cipher(settings: Annotated[Settings, Depends(get_settings)]) -> CredentialsCipher:
    """The credentials cipher; 500 problem `credentials-encryption-unconfigured` when no key is set."""
    try:
        return cipher_from_settings(settings)
    except CredentialsKeyError as exc:
        logger.error("credentials encryption: %s", exc)
        raise ProblemError(
            500,
            "credentials-encryption-unconfigured",
            "The server cannot store or read carrier credentials: its encryption key is missing or malformed "
            "(operator: set CREDENTIALS_ENCRYPTION_KEYS).",
        ) from None


Cipher = Annotated[CredentialsCipher, Depends(credentials_cipher)]
Http = Annotated[CarrierHttp, Depends(carrier_http)]
