"""courier-hub's generic tracking push format (inbound, courier -> us).

Carriers that publish no push format of their own (FedEx, PostNord) and
every plugin carrier push tracking updates to us in this format, signed
with the Standard Webhooks scheme (https://www.standardwebhooks.com; see
`app.carriers.base.verify_standard_webhook`). The format is ours: it is the
JSON shape of `app.carriers.types.TrackingResult`/`TrackingEvent`, with the
normalized status vocabulary of `TrackingStatus`.

Body: one JSON object (UTF-8)::

    {
      "shipments": [                                  required, may be empty
        {
          "tracking_number": "1234567890",            required, non-blank string
          "status": "in_transit",                     optional TrackingStatus value
          "estimated_delivery": "2024-05-02T18:00:00+02:00",   optional, ISO 8601 with offset
          "events": [                                 optional, default []
            {
              "id": "evt-42",                         optional, the carrier's event id
              "occurred_at": "2024-05-01T09:15:00Z",  required, ISO 8601 with offset
              "status": "in_transit",                 required TrackingStatus value
              "code": "AR",                           optional, the carrier's own code
              "description": "Arrived at hub",        optional
              "location": {                           optional, every member optional
                "city": "Oslo", "postal_code": "0150", "country": "NO"   (ISO 3166-1 alpha-2)
              }
            }
          ]
        }
      ]
    }

TrackingStatus values: pending, info_received, in_transit, out_for_delivery,
available_for_pickup, delivered, failed_attempt, exception, returned,
cancelled, unknown.

Rules: unknown members are ignored at every level; members that are present
must have the type shown (strings are not made from numbers, times must be
strings in ISO 8601 *with* a UTC offset or "Z": a time without an offset is
rejected); `null` equals absent for optional members; blank optional strings
count as absent.

Result: one `TrackingResult` per shipment, in body order: found=True; status
= the shipment's `status`, else the status of its latest event, else
unknown; events sorted oldest first (ties keep body order), times in UTC,
`carrier_code` = the event's `code`, `raw` = the event object as sent;
the result's `raw` = the shipment object as sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, StringConstraints, ValidationError

from app.carriers.errors import WebhookPayloadError
from app.carriers.types import Location, TrackingEvent, TrackingResult, TrackingStatus

MAX_REPORTED_ERRORS = 5
"""How many validation errors a WebhookPayloadError message lists."""


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _iso_text_only(value: Any) -> Any:
    # pydantic would also read Unix numbers as times; the format says ISO 8601 text
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 string with a UTC offset")
    return value


OptionalText = Annotated[str | None, BeforeValidator(_blank_is_none)]
IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_text_only)]
OptionalIsoTime = Annotated[AwareDatetime | None, BeforeValidator(_iso_text_only), BeforeValidator(_blank_is_none)]


class PushLocation(BaseModel):
    """`events[].location`: where the event happened; `country` is ISO 3166-1 alpha-2 (upper-cased)."""

    city: OptionalText = None
    postal_code: OptionalText = None
    country: Annotated[
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)] | None, BeforeValidator(_blank_is_none)
    ] = None


class PushEvent(BaseModel):
    """`shipments[].events[]`: one tracking event with its time (offset required) and normalized status."""

    id: OptionalText = None
    occurred_at: IsoTime
    status: TrackingStatus
    code: OptionalText = None
    description: OptionalText = None
    location: PushLocation | None = None


class PushShipment(BaseModel):
    """`shipments[]`: one tracking number with its optional status, estimated delivery and events."""

    tracking_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    status: TrackingStatus | None = None
    estimated_delivery: OptionalIsoTime = None
    events: Annotated[list[PushEvent], BeforeValidator(lambda v: [] if v is None else v)] = []


class GenericPush(BaseModel):
    """The whole generic push body: `{"shipments": [...]}` (unknown members ignored)."""

    shipments: list[PushShipment]


def _error_summary(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors[:MAX_REPORTED_ERRORS]]
    more = len(errors) - MAX_REPORTED_ERRORS
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _event(push: PushEvent, raw: dict[str, Any]) -> TrackingEvent:
    where = push.location or PushLocation()
    return TrackingEvent(
        occurred_at=push.occurred_at,
        status=push.status,
        carrier_code=push.code,
        description=push.description,
        location=Location(city=where.city, postal_code=where.postal_code, country=where.country),
        raw=raw,
    )


def _result(push: PushShipment, raw: dict[str, Any]) -> TrackingResult:
    raw_events = raw.get("events") or []
    events = sorted((_event(e, r) for e, r in zip(push.events, raw_events, strict=True)), key=lambda e: e.occurred_at)
    status = push.status or (events[-1].status if events else TrackingStatus.UNKNOWN)
    return TrackingResult(
        tracking_number=push.tracking_number,
        found=True,
        status=status,
        events=events,
        estimated_delivery=push.estimated_delivery,
        raw=raw,
    )


def parse_generic_push(carrier: str, document: Any) -> list[TrackingResult]:
    """Parse a decoded generic push body (format in this module's docstring) into one TrackingResult per shipment.

    `document` is the body as read by `json.loads` (`app.carriers.base.decode_push_json`);
    `carrier` is the adapter code, used in error messages. An empty
    `shipments` list gives []. Raises WebhookPayloadError when the document is
    not the format; the message lists the first offending fields, e.g.
    "shipments.0.events.1.occurred_at: Input should have timezone info".
    """
    try:
        push = GenericPush.model_validate(document)
    except ValidationError as exc:
        raise WebhookPayloadError(carrier, f"body is not a courier-hub generic push: {_error_summary(exc)}") from None
    return [_result(shipment, raw) for shipment, raw in zip(push.shipments, document["shipments"], strict=True)]
