"""Request/response models of /v1/integrations and /v1/carriers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Environment = Literal["sandbox", "production"]
CheckStatus = Literal["ok", "failed"]
Name = Annotated[str, Field(min_length=1, max_length=100, description="Tells several accounts with one carrier apart.")]

DEFAULT_NAME = "default"


class IntegrationCreate(BaseModel):
    """`POST /v1/integrations`: connect an account with `carrier`."""

    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(min_length=1, max_length=50, description="Carrier code from GET /v1/carriers, e.g. `fedex`.")
    name: Name = DEFAULT_NAME
    environment: Environment = "production"
    credentials: dict[str, Any] = Field(
        description="Fields of the carrier's `credentials_schema` (GET /v1/carriers). Stored encrypted, never returned."
    )
    is_active: bool = True


class IntegrationUpdate(BaseModel):
    """`PATCH /v1/integrations/{id}`: only the fields sent change; `credentials` is replaced as a whole."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    environment: Environment | None = None
    credentials: dict[str, Any] | None = Field(default=None, description="The complete new credentials (re-validated).")
    is_active: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(k for k, v in data.items() if v is None)
            if nulls:
                raise ValueError(f"fields cannot be null: {', '.join(nulls)} (leave them out to keep them)")
        return data


class WebhookAuth(BaseModel):
    """How the carrier must authenticate its pushes to `inbound_webhook_url` with the integration's webhook secret."""

    scheme: Literal["secret-header", "standard-webhooks"] = Field(
        description='"secret-header": the carrier sends the secret verbatim in `header` (configured in the '
        'carrier\'s subscription); "standard-webhooks": the sender signs each push with the secret '
        "(https://www.standardwebhooks.com: webhook-id, webhook-timestamp, webhook-signature)."
    )
    header: str | None = Field(default=None, description="The header carrying the secret (scheme secret-header).")


class IntegrationOut(BaseModel):
    """An integration as the API shows it: `credentials` masked (secret fields as "****"), never the webhook secret."""

    id: uuid.UUID
    carrier: str
    name: str
    environment: Environment
    is_active: bool
    credentials: dict[str, str] | None = Field(
        description='Field name -> masked value: "****" for secrets, "****" + last 2 characters otherwise. '
        "Null if the stored credentials cannot be decrypted with the server's keys."
    )
    last_check_status: CheckStatus | None
    last_checked_at: datetime | None
    last_error: str | None
    inbound_webhook_url: str = Field(
        description="Where the carrier pushes tracking updates for this integration (POST /v1/inbound/{carrier}/{id})."
    )
    webhook_auth: WebhookAuth | None = Field(
        description="How those pushes authenticate; null if the carrier's adapter is no longer installed."
    )
    webhook_secret_set: bool = Field(
        description="False for integrations created before per-integration webhook secrets: "
        "POST /v1/integrations/{id}/rotate-webhook-secret issues one."
    )
    created_at: datetime
    updated_at: datetime


class IntegrationWithSecret(IntegrationOut):
    """`POST /v1/integrations` and `POST /v1/integrations/{id}/rotate-webhook-secret`: the integration and its
    webhook secret, shown this once (only a sealed copy is stored)."""

    webhook_secret: str = Field(
        description="`whsec_` + base64 of 32 random bytes. Configure it at the carrier as `webhook_auth` says."
    )
    previous_webhook_secret_expires_at: datetime | None = Field(
        default=None, description="After a rotation: until when the previous secret is still accepted."
    )


class IntegrationCheck(BaseModel):
    """`POST /v1/integrations/{id}/test` response: the outcome of one credentials test against the carrier."""

    integration_id: uuid.UUID
    status: CheckStatus
    last_checked_at: datetime
    last_error: str | None = None
    error_type: str | None = Field(
        default=None,
        description="Problem type slug of the carrier failure: carrier-auth-failed (credentials rejected), "
        "carrier-unavailable, carrier-rate-limited, carrier-bad-response.",
    )
