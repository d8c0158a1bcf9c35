"""A tenant's carrier credentials and push secrets: validation, masking, encryption (no database, no HTTP).

Credentials are validated against the carrier adapter's `credentials_model`
and stored encrypted with the credentials cipher (MultiFernet under
CREDENTIALS_ENCRYPTION_KEYS); reads show them masked. The webhook secret that
authenticates a carrier's pushes is sealed the same way, with the previous one
kept for the rotation overlap.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError

from app.core.crypto import CredentialsCipher, CredentialsDecryptError
from app.core.db.base import utcnow
from app.core.webhook_secrets import seal, unseal
from app.carriers.base import CarrierAdapter
from app.carriers.registry import UnknownCarrier, get_adapter_class
from app.integrations.errors import (
    CredentialsUndecryptable,
    InvalidCredentials,
    UnsupportedCarrier,
)
from app.integrations.models import Integration

logger = logging.getLogger(__name__)

MASK = "****"
"""What a secret credential field reads as."""


def adapter_class(carrier: str) -> type[CarrierAdapter]:
    """The adapter class registered as `carrier`; UnsupportedCarrier 422 listing `known_carriers` otherwise."""
    try:
        return get_adapter_class(carrier)
    except UnknownCarrier as exc:
        raise UnsupportedCarrier(f"Unknown carrier '{carrier}'. See GET /v1/carriers.", known_carriers=exc.known) from exc


def _reveal(value: Any) -> Any:
    if isinstance(value, (SecretStr, SecretBytes)):
        secret = value.get_secret_value()
        return secret.decode() if isinstance(secret, bytes) else secret
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_reveal(v) for v in value]
    return value


def validate_credentials(*, carrier: str, credentials: dict[str, Any]) -> dict[str, Any]:
    """`credentials` validated and normalized by the carrier's credentials model, as a plain JSON-able dict.

    Raises UnsupportedCarrier 422 `unsupported-carrier`, or InvalidCredentials 422 `invalid-credentials`
    whose `errors` give each field's location, message and type, never the
    submitted values.
    """
    model = adapter_class(carrier).credentials_model
    try:
        validated = model.model_validate(credentials)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", "credentials", *err["loc"]], "msg": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise InvalidCredentials(
            f"The credentials do not match the {carrier} credentials schema (GET /v1/carriers); see `errors`.",
            errors=errors,
        ) from None
    # Only what was given is stored: defaults are applied again whenever an adapter is built from it.
    return _reveal(validated.model_dump(exclude_none=True, exclude_unset=True))


def _secret_fields(model: type[BaseModel]) -> set[str]:
    secret_types = (SecretStr, SecretBytes)
    names = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        candidates = (annotation, *get_args(annotation))
        if any(isinstance(c, type) and issubclass(c, secret_types) for c in candidates):
            names.add(name)
    return names


def mask_credentials(*, carrier: str, credentials: dict[str, Any]) -> dict[str, str]:
    """Field name -> "****" for secret fields (SecretStr in the carrier's model), "****" + last 2 chars otherwise.

    Values shorter than 6 characters and non-strings are fully masked.
    """
    try:
        secrets = _secret_fields(get_adapter_class(carrier).credentials_model)
    except UnknownCarrier:
        secrets = set(credentials)  # carrier plugin gone: show nothing but names
    masked = {}
    for name, value in credentials.items():
        if name in secrets or not isinstance(value, str) or len(value) < 6:
            masked[name] = MASK
        else:
            masked[name] = MASK + value[-2:]
    return masked


def decrypt_credentials(*, integration: Integration, cipher: CredentialsCipher) -> dict[str, Any]:
    """The integration's plain credentials; CredentialsUndecryptable 500 if no configured key opens them."""
    try:
        return cipher.decrypt(integration.credentials_ciphertext)
    except CredentialsDecryptError as exc:
        logger.error("integration %s: %s", integration.id, exc)
        raise CredentialsUndecryptable(
            "The stored credentials of this integration cannot be decrypted with the server's keys; "
            "the operator must restore the old key, or replace the credentials with PATCH.",
            integration_id=str(integration.id),
        ) from None


def masked_credentials(*, integration: Integration, cipher: CredentialsCipher) -> dict[str, str] | None:
    """`mask_credentials` of the stored credentials, or None (logged) when they cannot be decrypted."""
    try:
        plain = cipher.decrypt(integration.credentials_ciphertext)
    except CredentialsDecryptError as exc:
        logger.error("integration %s: %s", integration.id, exc)
        return None
    return mask_credentials(carrier=integration.carrier, credentials=plain)


# --------------------------------------------------------------------------- webhook secret


def seal_webhook_secret(
    *, cipher: CredentialsCipher, secret: str, previous: str | None = None, previous_expires_at: datetime | None = None
) -> str:
    """The Fernet token stored in `webhook_secret_ciphertext`: `secret`, plus the previous one until it expires.

    Without `previous` the token is exactly `app.core.webhook_secrets.seal(cipher, secret)`.
    """
    if previous is None or previous_expires_at is None:
        return seal(cipher, secret)
    return cipher.encrypt({"secret": secret, "previous": previous, "previous_expires_at": previous_expires_at.isoformat()})


def webhook_secrets(*, integration: Integration, cipher: CredentialsCipher, now: datetime | None = None) -> list[str]:
    """The secrets that authenticate pushes for `integration` now: the current one, then the previous one during
    the rotation overlap. [] when it has none (created before per-integration secrets existed).

    Raises CredentialsDecryptError when no configured key opens the stored token.
    """
    if not integration.webhook_secret_ciphertext:
        return []
    sealed = cipher.decrypt(integration.webhook_secret_ciphertext)
    secrets_ = [str(sealed["secret"])]
    previous, expires = sealed.get("previous"), sealed.get("previous_expires_at")
    if previous and expires and datetime.fromisoformat(expires) > (now or utcnow()):
        secrets_.append(str(previous))
    return secrets_


def current_webhook_secret(integration: Integration, cipher: CredentialsCipher) -> str | None:
    """The integration's current push secret, or None (none yet, or no configured key opens it: logged)."""
    if not integration.webhook_secret_ciphertext:
        return None
    try:
        return unseal(cipher, integration.webhook_secret_ciphertext)
    except CredentialsDecryptError as exc:
        # an undecryptable old secret must not block issuing a new one: it just gets no overlap
        logger.error("integration %s webhook secret: %s", integration.id, exc)
        return None


