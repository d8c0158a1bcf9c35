"""Imports every model so `Base.metadata` is complete (Alembic, doctor, tests)."""

from app.analytics.models import AnalyticsSettings, CountedRollup, DirtyShipment, DurationHistogram, GroupDay, GroupMonth, GroupWeek, Review, ReviewLink, ShipmentRollup
from app.audit.models import AuditEntry, PlatformAuditEntry
from app.auth.models import ApiKey, ApiKeyLookup, PlatformApiKey
from app.auth.session_models import ConsoleSession
from app.billing.models import Plan, PlanOverride, StripeEvent, TenantSubscription, UsageCounter
from app.core.db.base import Base
from app.events.models import IntegrationEvent
from app.idempotency.models import IdempotencyKey
from app.integrations.models import Integration
from app.labels.batch_models import LabelBatch, LabelBatchItem
from app.labels.models import Label, LabelDocument
from app.labels.rules_models import ShippingRule, ShippingRuleBooking
from app.pos.models import PosConnection, PosOrder, PosOrderRevision, PosPushDelivery
from app.privacy.models import RetentionSettings
from app.shipments.inbound_models import InboundWebhook, UnmatchedTrackingUpdate
from app.shipments.models import Shipment, TrackingEvent
from app.tenants.models import Tenant
from app.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "AnalyticsSettings",
    "DirtyShipment",
    "DurationHistogram",
    "GroupDay",
    "GroupMonth",
    "GroupWeek",
    "CountedRollup",
    "Review",
    "ReviewLink",
    "ShipmentRollup",
    "ApiKey",
    "AuditEntry",
    "ApiKeyLookup",
    "ConsoleSession",
    "DeliveryAttempt",
    "InboundWebhook",
    "Base",
    "IdempotencyKey",
    "Integration",
    "IntegrationEvent",
    "Label",
    "LabelBatch",
    "LabelBatchItem",
    "LabelDocument",
    "Plan",
    "PlanOverride",
    "PlatformApiKey",
    "PlatformAuditEntry",
    "PosConnection",
    "PosOrder",
    "PosOrderRevision",
    "PosPushDelivery",
    "RetentionSettings",
    "Shipment",
    "ShippingRule",
    "ShippingRuleBooking",
    "StripeEvent",
    "Tenant",
    "TenantSubscription",
    "TrackingEvent",
    "UnmatchedTrackingUpdate",
    "UsageCounter",
    "WebhookDelivery",
    "WebhookEndpoint",
]
