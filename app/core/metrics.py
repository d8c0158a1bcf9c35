"""The Prometheus metrics of the API and the worker (official `prometheus-client`), defined once here.

Every domain counts through these objects; `GET /metrics` (METRICS_ENABLED)
and the worker's metrics port expose them. Label values are bounded sets
(route templates, carrier codes, outcomes), never ids. Durations in seconds.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "courier_hub_http_requests_total", "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "courier_hub_http_request_duration_seconds", "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
)
ORDERS_INGESTED = Counter(
    "courier_hub_orders_ingested_total", "POS orders ingested, by source and result (created, existing).",
    ["source", "result"],
)
IDEMPOTENT_REPLAYS = Counter(
    "courier_hub_idempotent_replays_total", "Requests answered from a stored Idempotency-Key response, by route.", ["route"]
)
LABELS = Counter(
    "courier_hub_labels_total", "Label bookings by carrier and outcome (booked, failed, unknown).", ["carrier", "outcome"]
)
CARRIER_CALLS = Counter(
    "courier_hub_carrier_calls_total", "Carrier API calls, by carrier, operation and outcome (ok or the error type).",
    ["carrier", "operation", "outcome"],
)
CARRIER_LATENCY = Histogram(
    "courier_hub_carrier_call_duration_seconds", "Carrier API call time, retries included, by carrier and operation.",
    ["carrier", "operation"],
)
WEBHOOK_DELIVERIES = Counter(
    "courier_hub_webhook_delivery_attempts_total", "Webhook delivery attempts by outcome (succeeded, failed, ...).",
    ["outcome"],
)
RATE_LIMIT_REJECTIONS = Counter(
    "courier_hub_rate_limit_rejections_total", "Requests refused with 429, by limit (key, tenant, auth_failures, ...).",
    ["limit"],
)
WEBHOOK_BACKLOG = Gauge("courier_hub_webhook_backlog", "Webhook deliveries due now (all tenants).")
WEBHOOK_BACKLOG_AGE = Gauge("courier_hub_webhook_backlog_oldest_seconds", "Age of the oldest due webhook delivery.")
WEBHOOK_ENDPOINTS_DISABLED = Gauge("courier_hub_webhook_endpoints_disabled", "Webhook endpoints disabled (all tenants).")
TRACKING_BACKLOG = Gauge("courier_hub_tracking_backlog", "Shipments due for a tracking refresh (all tenants).")
DB_POOL_IN_USE = Gauge("courier_hub_db_pool_connections_in_use", "Database connections checked out of this process's pool.")
WEBHOOK_RECORD_FAILURES = Counter(
    "courier_hub_webhook_attempt_record_failures_total",
    "Failed tries to record a sent delivery attempt (database errors); each is retried within the attempt's lease.",
)
WEBHOOK_UNRECORDED_ATTEMPTS = Counter(
    "courier_hub_webhook_unrecorded_attempts_total",
    "Delivery attempts sent whose outcome could not be recorded before their lease ended: each is sent again "
    "after the lease (a duplicate the receiver dedups by webhook-id).",
)
