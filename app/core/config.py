"""Settings: the one place every environment variable is read (pydantic-settings).

Every field here is listed in `.env.example`. Values come from the process
environment, then from a `.env` file in the working directory. An empty value
(`NAME=`) means "unset": the default applies (so a copy of `.env.example` works).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All runtime settings of the API, the worker and the CLI."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: one readable line per record; json: one JSON object per line (python-json-logger)."
    )

    # Observability: Prometheus metrics and optional OpenTelemetry tracing (app.api.metrics, app.core.tracing).
    metrics_enabled: bool = Field(default=False, description="Serve GET /metrics (Prometheus text format, no API key).")
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Serve the API's /metrics on this port instead of the API port."
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Bind address of METRICS_PORT and WORKER_HEALTH_PORT (private network only)."
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP collector base URL (e.g. http://otel-collector:4318); set => tracing on."
    )

    # HTTP server
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str | None = Field(
        default=None,
        description="The API's public origin (https://api.example.com, optionally with a path prefix): every absolute "
        "URL the API hands out is built from it, never from the request's Host header. Required in production; "
        "default http://HOST:PORT.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses/CIDRs of reverse proxies whose X-Forwarded-For/-Proto are believed "
        "(client address for the failed-auth limit and logs, https for HSTS). Empty: none, the TCP peer is the client.",
    )
    max_body_bytes: int = Field(default=1_048_576, description="Request body cap in bytes (413 above it).")
    max_batch_body_bytes: int = Field(
        default=16 * 1_048_576, description="Body cap of POST /v1/label-batches (1,000 bookings), in bytes."
    )

    # Database. DATABASE_URL is the *owner* connection (runs migrations). The
    # API and the worker drop to APP_DB_USER, which owns nothing and cannot
    # bypass row-level security. Unset DATABASE_URL => embedded PostgreSQL.
    database_url: str | None = None
    app_db_user: str = "courier_hub_app"
    app_db_password: SecretStr | None = None
    embedded_pg_dir: Path = Path(".data/postgres")
    db_pool_size: int = 10
    db_max_overflow: int = 10
    web_concurrency: int = Field(
        default=1, ge=1, description="API processes (`serve --workers N` sets it); start-up checks pools against max_connections."
    )

    # Idempotency
    idempotency_key_ttl_seconds: int = Field(default=24 * 3600, description="How long an Idempotency-Key is kept.")
    idempotency_retry_after_seconds: int = 1
    idempotency_stale_claim_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A key held by a session idle in its transaction this long is taken for dead (its client is gone): "
        "the next request with the key ends that session and runs, instead of a 409.",
    )
    idempotency_hash_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="HMAC-SHA256 key (32+ characters) of stored request fingerprints (idempotency_keys.request_hash); "
        "unset: derived from the newest CREDENTIALS_ENCRYPTION_KEYS key.",
    )

    # Courier API base URLs: each overrides both sandbox and production.
    dhl_base_url: str | None = None
    fedex_base_url: str | None = None
    ups_base_url: str | None = None
    postnord_base_url: str | None = None
    bring_base_url: str | None = None
    square_base_url: str | None = Field(
        default=None, description="Square API origin for RetrieveOrder; default by the connection's environment."
    )
    carrier_connect_timeout_seconds: float = 5.0
    carrier_read_timeout_seconds: float = 20.0
    carrier_max_retries: int = 3
    label_booking_stale_seconds: float = Field(
        default=300,
        gt=0,
        description="A booking recorded this long ago without an outcome (its process died) is reported as outcome unknown.",
    )
    carrier_retry_max_wait_seconds: float = 30.0

    # The web console (/console): server-side sessions opened with an API key.
    console_session_idle_seconds: int = Field(
        default=1800, ge=60, le=7 * 24 * 3600, description="A console session unused this long ends (sign in again)."
    )
    console_session_max_seconds: int = Field(
        default=12 * 3600, ge=300, le=30 * 24 * 3600, description="A console session ends this long after sign-in, used or not."
    )

    # Secrets at rest: comma-separated Fernet keys, newest first (MultiFernet).
    credentials_encryption_keys: SecretStr | None = None

    # Billing (Stripe). Unset STRIPE_API_KEY => checkout/portal answer 503;
    # unset STRIPE_WEBHOOK_SECRET => the Stripe webhook answers 503.
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_webhook_tolerance_seconds: int = Field(
        default=300, description="Maximum age of a Stripe-Signature timestamp (replay window)."
    )
    stripe_api_base_url: str | None = Field(default=None, description="Override Stripe's API base (e.g. stripe-mock).")
    stripe_timeout_seconds: float = 10.0
    stripe_max_network_retries: int = 2
    billing_past_due_grace_seconds: int = Field(
        default=7 * 24 * 3600, description="How long a past_due subscription keeps its plan before falling back to free."
    )
    billing_checkout_success_url: str | None = None
    billing_checkout_cancel_url: str | None = None
    billing_portal_return_url: str | None = None

    # Rate limits (slowapi on `limits`). Counts live in memory unless REDIS_URL
    # is set; then every API process shares them.
    redis_url: str | None = None
    rate_limit_enabled: bool = True
    rate_limit_strategy: Literal["moving-window", "sliding-window-counter"] = "moving-window"
    rate_limit_key_prefix: str = "courier-hub"
    auth_failure_rate_limit: str = Field(
        default="10/minute", description="Failed authentications allowed per client address (limits notation)."
    )
    platform_admin_rate_limit: str = Field(default="600/minute", description="Requests per platform-admin key.")

    # Outbound webhooks (app/webhooks) and the worker (`courier-hub worker`).
    webhook_dev_allowed_hosts: str = Field(
        default="",
        description="Comma-separated hosts that webhook endpoints may use over plain http and on private/loopback "
        "addresses (local development only; empty in production).",
    )
    webhook_timeout_seconds: float = Field(
        default=15.0, gt=0, le=300, description="A delivery attempt must get its 2xx within this (its claim lease is this + 60 s)."
    )
    webhook_retry_schedule_seconds: list[float] = Field(
        default=[5, 300, 1800, 7200, 18000, 36000, 36000],
        description="Waits before each retry after a failed attempt (Svix's schedule); JSON list in the environment.",
    )
    webhook_retry_jitter: float = Field(default=0.1, description="Each retry wait is scaled by a random factor in 1 +/- this.")
    webhook_retry_after_max_seconds: float = Field(
        default=36000, description="Upper bound on a receiver's Retry-After (on 429/502/503/504)."
    )
    webhook_disable_after_seconds: int = Field(
        default=5 * 24 * 3600, description="An endpoint whose every attempt failed for this long is disabled."
    )
    webhook_secret_rotation_overlap_seconds: int = Field(
        default=24 * 3600, description="After rotate-secret, the old secret keeps signing this long."
    )
    webhook_response_body_max_bytes: int = Field(default=4096, description="Response bytes kept per delivery attempt.")
    webhook_attempt_retention_seconds: int = Field(
        default=30 * 24 * 3600, description="Delivery attempts older than this are purged by the worker's maintenance."
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Development default for inbound courier webhooks of integrations without their own secret "
        "(ignored when ENVIRONMENT=production).",
    )
    worker_concurrency: int = Field(default=10, description="Delivery attempts one worker sends at once.")
    worker_batch_size: int = Field(
        default=200,
        description="Due deliveries one worker claims per round (bench.webhooks: 200 keeps the send slots fed, 50 did not).",
    )
    worker_idle_seconds: float = Field(
        default=1.0,
        description="How often the worker polls for due deliveries (the fallback: with WEBHOOK_LISTEN it is woken at once).",
    )
    webhook_listen: bool = Field(
        default=True,
        description="The worker LISTENs for new deliveries on a dedicated connection; false behind PgBouncer "
        "transaction pooling (LISTEN does not work there): then it only polls every WORKER_IDLE_SECONDS.",
    )
    worker_maintenance_interval_seconds: float = Field(
        default=3600, description="How often the worker purges expired rows and sweeps billing grace periods."
    )
    worker_health_port: int = Field(
        default=9100, ge=0, le=65535, description="The worker's /healthz and /metrics port on METRICS_HOST (0: off)."
    )
    worker_health_stale_seconds: float = Field(
        default=60, gt=0, description="/healthz answers 503 when the worker's event loop has not run for this long."
    )

    # Scheduled tracking refresh (done by the worker).
    tracking_refresh_interval_seconds: int = Field(default=2 * 3600, description="Refresh cadence of open shipments.")
    tracking_refresh_out_for_delivery_seconds: int = Field(
        default=30 * 60, description="Refresh cadence once a shipment is out for delivery."
    )
    tracking_refresh_stop_after_seconds: int = Field(
        default=30 * 24 * 3600, description="Stop refreshing a shipment this long after its last status change."
    )
    tracking_refresh_batch_size: int = Field(default=200, description="Due shipments one worker claims per round.")

    # Label batches (booked by the worker) and the service-point answer cache.
    service_point_cache_seconds: float = Field(
        default=3600, ge=0, description="How long a carrier's service-point answer is reused for the same query (0: off)."
    )
    label_batch_claim_size: int = Field(default=50, ge=1, description="Queued batch items one worker claims per round.")
    label_batch_concurrency_per_carrier: int = Field(
        default=4, ge=1, description="Bookings one worker sends to one carrier at once."
    )
    label_batch_lease_seconds: float = Field(
        default=300, gt=0, le=3600, description="How long a claimed item is the worker's; a killed worker's items come back after it."
    )
    label_batch_max_attempts: int = Field(
        default=5, ge=1, description="Bookings of one item the carrier could not take (unavailable, rate limited) before it fails."
    )

    # Analytics, reviews, rates and recommendations (app/analytics).
    analytics_lost_after_days: int = Field(
        default=14, ge=1, le=365, description="An undelivered shipment without a scan for this many days counts as lost."
    )
    analytics_rollup_interval_seconds: float = Field(
        default=60, gt=0, description="How often the worker recomputes the rollups of shipments whose tracking changed."
    )
    analytics_rollup_batch_size: int = Field(default=1000, ge=1, le=50_000, description="Shipment rollups per transaction.")
    review_link_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key of recipient review-link tokens (at least 32 characters); unset in development: "
        "a per-process random key (links then die with the process).",
    )
    review_link_ttl_seconds: int = Field(default=14 * 24 * 3600, gt=0, description="How long a review link works.")
    review_link_rate_limit_per_token: str = Field(
        default="5/hour", description="Public review submissions allowed per link token (limits notation)."
    )
    review_link_rate_limit_per_address: str = Field(
        default="30/hour", description="Public review submissions allowed per client address (limits notation)."
    )
    rates_deadline_seconds: float = Field(
        default=10, gt=0, le=60, description="POST /v1/rates answers with what the carriers gave within this time."
    )
    recommendation_min_shipments: int = Field(
        default=20, ge=1, description="Delivered shipments with a promise a lane needs before its on-time rate is used."
    )
    recommendation_min_reviews: int = Field(
        default=5, ge=1, description="Reviews a lane needs before its average rating is used."
    )

    @field_validator("public_base_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an absolute http(s) URL without query or fragment, e.g. https://api.example.com")
        return value.strip().rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"{item!r} is not an IP address or CIDR (e.g. 10.0.0.0/8)") from None
        return value

    @property
    def trusted_proxy_networks(self) -> list[str]:
        """TRUSTED_PROXIES as a list of addresses/CIDRs (validated at load); empty: trust no forwarded header."""
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    @property
    def public_base(self) -> str:
        """The public origin without a trailing slash: PUBLIC_BASE_URL, else http://HOST:PORT (development)."""
        if self.public_base_url:
            return self.public_base_url
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host  # noqa: S104 - a bind-all address
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def production_problems(self) -> list[str]:
        """Why these settings are unsafe for ENVIRONMENT=production (empty list: safe, or not production).

        Checked by `courier-hub serve`, `worker` and `migrate` before they start (exit code 2):
        CREDENTIALS_ENCRYPTION_KEYS set and well-formed Fernet keys; the development fallbacks
        WEBHOOK_SECRET and WEBHOOK_DEV_ALLOWED_HOSTS unset; REVIEW_LINK_SECRET set (32+ characters); DATABASE_URL set (no embedded server);
        PUBLIC_BASE_URL set; PUBLIC_BASE_URL and the BILLING_* return URLs https.
        """
        if self.environment != "production":
            return []
        problems: list[str] = []
        if self.credentials_encryption_keys is None:
            problems.append("CREDENTIALS_ENCRYPTION_KEYS is not set (generate one with `courier-hub init`)")
        else:
            from cryptography.fernet import Fernet

            keys = [k.strip() for k in self.credentials_encryption_keys.get_secret_value().split(",") if k.strip()]
            for position, key in enumerate(keys, start=1):
                try:
                    Fernet(key)
                except ValueError:
                    problems.append(f"CREDENTIALS_ENCRYPTION_KEYS key #{position} is not a Fernet key")
            if not keys:
                problems.append("CREDENTIALS_ENCRYPTION_KEYS holds no key")
        if self.webhook_secret is not None:
            problems.append("WEBHOOK_SECRET is a development fallback and must be unset")
        if self.webhook_dev_hosts:
            problems.append("WEBHOOK_DEV_ALLOWED_HOSTS is for development only and must be empty")
        if self.review_link_secret is None:
            problems.append("REVIEW_LINK_SECRET is not set (review links need a stable signing key)")
        elif len(self.review_link_secret.get_secret_value()) < 32:
            problems.append("REVIEW_LINK_SECRET must be at least 32 characters")
        if not self.database_url:
            problems.append("DATABASE_URL is not set (the embedded PostgreSQL is for development)")
        if not self.public_base_url:
            problems.append("PUBLIC_BASE_URL is not set (e.g. https://api.example.com)")
        for name in ("public_base_url", "billing_checkout_success_url", "billing_checkout_cancel_url", "billing_portal_return_url"):
            value = getattr(self, name)
            if value and urlsplit(value).scheme.lower() != "https":
                problems.append(f"{name.upper()} must be an https URL (is {value})")
        return problems

    @property
    def webhook_dev_hosts(self) -> frozenset[str]:
        """WEBHOOK_DEV_ALLOWED_HOSTS as lower-case host names/addresses."""
        return frozenset(h.strip().lower().strip("[]") for h in self.webhook_dev_allowed_hosts.split(",") if h.strip())

    def carrier_base_url_override(self, carrier: str) -> str | None:
        """The `<CARRIER>_BASE_URL` override for `carrier` (e.g. "dhl"), or None."""
        return getattr(self, f"{carrier}_base_url", None)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache to override)."""
    return Settings()
