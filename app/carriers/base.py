"""The adapter contract every carrier implements.

An adapter instance is bound to one integration (a tenant's account with a
carrier): its validated credentials, its environment and its base URL.
Operations a carrier does not offer raise `CapabilityNotSupported`; the
registry reports which operations each adapter overrides, plus the ones the
base implements for every carrier (`INHERITED_CAPABILITIES`).

Inbound pushes (courier -> us) are classmethods: they must never build
credentials or call the carrier. `verify_webhook` authenticates a push with
the integration's webhook secret, by one of two schemes:

* `webhook_auth_header` set (UPS `x-api-key`, Bring/DHL `SECRET_HEADER`): the
  carrier sends a credential the merchant configured in its subscription;
  the header must equal the secret (`verify_secret_header`);
* `webhook_auth_header` None (default; FedEx, PostNord, plugins): the sender
  signs with the Standard Webhooks scheme (https://www.standardwebhooks.com,
  headers webhook-id / webhook-timestamp / webhook-signature;
  `verify_standard_webhook`).

`parse_webhook` then reads the body; the default reads our generic push
format (`app.carriers.generic_push`), carriers with a push format of their
own override it.

Helpers for writing `track` live here too: `blank_number_result` (a blank
number is answered without a carrier call) and `track_concurrently` (for
carriers that take one number per request).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.carriers.errors import CapabilityNotSupported, ShipmentRequestInvalid, WebhookAuthError, WebhookPayloadError
from app.carriers.generic_push import parse_generic_push
from app.carriers.shipping import FieldError
from app.carriers.types import TrackingResult
from app.core import jsonio

if TYPE_CHECKING:
    from app.carriers.http import CarrierHttp
    from app.carriers.locations import AddressValidation, ServicePoint, ServicePointQuery
    from app.carriers.rating import RateQuote, RateRequest
    from app.carriers.shipping import Address, BookedShipment, Service, ShipmentRequest, VoidRequest  # noqa: F401

Environment = Literal["sandbox", "production"]

# Operation name -> method name, in the order reported by GET /v1/carriers.
CAPABILITIES: tuple[str, ...] = (
    "track",
    "test_credentials",
    "parse_webhook",
    "create_shipment",
    "void_shipment",
    "validate_address",
    "find_service_points",
    "rate",
)
INHERITED_CAPABILITIES: frozenset[str] = frozenset({"parse_webhook"})
"""Operations the base class implements for every adapter, so every adapter reports them."""

SECRET_HEADER = "x-courier-hub-secret"
"""Where carriers that let subscribers add custom headers (Bring Event Cast, DHL Push) send the webhook secret."""
STANDARD_WEBHOOKS_HEADERS: tuple[str, ...] = ("webhook-id", "webhook-timestamp", "webhook-signature")
"""The headers of a Standard Webhooks signature (spec v1: id, Unix seconds, space-separated `v1,<base64 HMAC-SHA256>`)."""


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """`headers` (Starlette `Headers` or a plain dict) as a dict with lower-case names; the first of repeated names wins."""
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        lowered.setdefault(name.lower(), value)
    return lowered


def decode_push_json(carrier: str, body: bytes) -> Any:
    """The JSON value of an inbound push body (UTF-8/16/32, as `json.loads` detects).

    Raises WebhookPayloadError when the body is not JSON, and PayloadTooDeep (422
    `payload-too-deep`) when it nests deeper than app.core.jsonio.MAX_JSON_DEPTH.
    """
    try:
        document = json.loads(body)
    except RecursionError:
        raise jsonio.too_deep() from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise WebhookPayloadError(carrier, f"body is not valid JSON: {exc}") from None
    jsonio.ensure_depth(document)
    return document


def verify_secret_header(carrier: str, *, headers: Mapping[str, str], header: str, secret: str) -> None:
    """Check that header `header` (any case) carries exactly `secret`, compared in constant time.

    For carriers that authenticate pushes with a credential configured in the
    subscription instead of signing them. Raises WebhookAuthError when no
    secret is configured, the header is missing or empty, or it differs.
    """
    if not secret:
        raise WebhookAuthError(carrier, "no webhook secret is configured for this integration")
    sent = lower_headers(headers).get(header.lower())
    if not sent:
        raise WebhookAuthError(carrier, f"missing {header} header")
    if not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), secret.encode("utf-8", "surrogatepass")):
        raise WebhookAuthError(carrier, f"{header} header does not match the webhook secret")


def verify_standard_webhook(carrier: str, *, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Check a Standard Webhooks signature of `body` with `secret` ("whsec_<base64>").

    Uses `standardwebhooks.webhooks.Webhook.verify`: `webhook-timestamp` must be
    within 5 minutes of now, and one of the space-separated `v1,<signature>`
    entries of `webhook-signature` must be the HMAC-SHA256 of
    `"{webhook-id}.{webhook-timestamp}.{body}"` (several entries: key rotation).
    Raises WebhookAuthError when a header is missing, a header or the secret is
    malformed, the timestamp is out of tolerance or no signature matches.
    """
    if not secret:
        raise WebhookAuthError(carrier, "no webhook secret is configured for this integration")
    lowered = lower_headers(headers)
    missing = [name for name in STANDARD_WEBHOOKS_HEADERS if not lowered.get(name)]
    if missing:
        raise WebhookAuthError(carrier, f"missing Standard Webhooks header(s): {', '.join(missing)}")
    try:
        webhook = Webhook(secret)
    except Exception:  # binascii.Error, EmptyWebhookSecretError: fail closed, never 500
        raise WebhookAuthError(carrier, "the integration's webhook secret is not a valid whsec_ secret") from None
    try:
        webhook.verify(body, lowered, json_parse=False)  # the body is parsed by parse_webhook, not here
    except WebhookVerificationError as exc:
        raise WebhookAuthError(carrier, f"Standard Webhooks verification failed: {exc}") from None
    except Exception:  # ValueError/binascii.Error (bad signature entry), UnicodeDecodeError (non-UTF-8 body), ...
        raise WebhookAuthError(carrier, "malformed Standard Webhooks signature headers or body") from None


class CarrierAdapter:
    """Base class of every carrier adapter.

    Subclasses set the class attributes and override the operations they
    support. `track` is mandatory; the others default to raising
    `CapabilityNotSupported`.
    """

    code: ClassVar[str]
    """Registry code, e.g. "dhl"."""
    name: ClassVar[str]
    """Human name, e.g. "DHL"."""
    credentials_model: ClassVar[type[BaseModel]]
    """Pydantic model of the integration's credentials (its JSON Schema is published)."""
    sandbox_base_url: ClassVar[str]
    production_base_url: ClassVar[str]
    max_batch_size: ClassVar[int] = 1
    """How many tracking numbers one carrier request may carry."""
    services: ClassVar[tuple[Service, ...]] = ()
    """The services `create_shipment` books (the carrier's own codes), listed by GET /v1/carriers."""
    webhook_auth_header: ClassVar[str | None] = None
    """Header carrying the integration's shared webhook secret for carriers that authenticate pushes with a
    configured header; None => Standard Webhooks signature (our generic format)."""

    def __init__(
        self,
        *,
        credentials: BaseModel,
        http: CarrierHttp,
        environment: Environment = "production",
        base_url: str | None = None,
    ) -> None:
        self.credentials = credentials
        self.http = http
        self.environment = environment
        self.base_url = (base_url or (self.sandbox_base_url if environment == "sandbox" else self.production_base_url)).rstrip("/")

    @classmethod
    def capabilities(cls) -> list[str]:
        """The operations this adapter implements: overrides of the base, plus `INHERITED_CAPABILITIES`."""
        return [
            op for op in CAPABILITIES if op in INHERITED_CAPABILITIES or getattr(cls, op) is not getattr(CarrierAdapter, op)
        ]

    @classmethod
    def webhook_auth_scheme(cls) -> Literal["secret-header", "standard-webhooks"]:
        """How `verify_webhook` authenticates pushes: "secret-header" (`webhook_auth_header`) or "standard-webhooks"."""
        return "secret-header" if cls.webhook_auth_header else "standard-webhooks"

    async def track(self, tracking_numbers: Sequence[str]) -> list[TrackingResult]:
        """Track up to `max_batch_size` numbers; one result per number, in input order.

        Raises a `CarrierError` subclass for failures of the whole call;
        a number the carrier does not know yields a result with found=False.
        """
        raise CapabilityNotSupported(self.code, "track is not supported")

    async def test_credentials(self) -> None:
        """Check the credentials with the cheapest carrier call; raises CarrierAuthError if rejected."""
        raise CapabilityNotSupported(self.code, "credential test is not supported")

    @classmethod
    def verify_webhook(cls, *, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """Authenticate one inbound push with the integration's webhook secret ("whsec_<base64>").

        `headers` is any mapping (looked up case-insensitively), `body` the raw
        request bytes. With `webhook_auth_header` set, that header must equal
        `secret` (`verify_secret_header`); otherwise the push must carry a valid
        Standard Webhooks signature (`verify_standard_webhook`).
        Raises WebhookAuthError (-> 401) when the push is not authentic.
        """
        carrier = getattr(cls, "code", cls.__name__)
        if cls.webhook_auth_header:
            verify_secret_header(carrier, headers=headers, header=cls.webhook_auth_header, secret=secret)
        else:
            verify_standard_webhook(carrier, headers=headers, body=body, secret=secret)

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[TrackingResult]:
        """Parse one push already authenticated by `verify_webhook`: one TrackingResult per shipment in it.

        The default reads our generic JSON push format (documented in
        `app.carriers.generic_push`); carriers with their own push format
        override this. Raises WebhookPayloadError (-> 400) when the body is not
        the expected format.
        """
        carrier = getattr(cls, "code", cls.__name__)
        return parse_generic_push(carrier, decode_push_json(carrier, body))

    def validate_shipment(self, request: ShipmentRequest) -> None:
        """Check `request` for this carrier without calling it; raises ShipmentRequestInvalid listing every failing field.

        The base checks that `service` is one of `services`; carriers add
        their own rules (required phones, customs, weight limits) by
        overriding it and calling `super().validate_shipment(request)` first.
        Called before a booking is recorded, and again by `create_shipment`.
        """
        codes = [service.code for service in self.services]
        if codes and request.service not in codes:
            raise ShipmentRequestInvalid(
                self.code,
                [FieldError(field="service", message=f"{self.code} books these services: {', '.join(codes)}")],
            )

    async def create_shipment(self, request: ShipmentRequest) -> BookedShipment:
        """Book `request` at the carrier and return its tracking numbers and label files.

        The carrier's `validate_request` runs first, so nothing reaches the
        carrier that it would refuse for a reason we can see. Once the carrier
        has accepted the booking (a 2xx), anything that fails afterwards (a
        reply we cannot read, a label document we cannot fetch, a partial
        booking we cannot cancel) is raised as CarrierBadResponse *without*
        a status: the caller then treats the outcome as unknown and never
        sends the booking again. Raises
        ShipmentRequestInvalid (before any call), CarrierRejected (the
        carrier's own errors), CarrierAuthError, CarrierUnavailable (the
        outcome may be unknown after a timeout), CarrierBadResponse.
        """
        raise CapabilityNotSupported(self.code, "shipment creation is not supported")

    async def void_shipment(self, request: VoidRequest) -> None:
        """Cancel a booked shipment at the carrier.

        Raises CapabilityNotSupported when the carrier has no cancel (the API
        answers 409 `label-not-voidable`), CarrierRejected when it refuses
        (already picked up, too late), and the transport errors of `track`.
        """
        raise CapabilityNotSupported(self.code, "voiding a shipment is not supported")

    async def validate_address(self, address: Address) -> AddressValidation:
        """Ask the carrier whether `address` exists as written: verdict, residential/commercial, normalized candidates.

        Raises CapabilityNotSupported where the carrier has no such API, and
        the transport errors of `track` (CarrierAuthError, CarrierUnavailable,
        CarrierRateLimited, CarrierBadResponse); CarrierRejected when the
        carrier refuses the request itself (e.g. a country it does not cover).
        """
        raise CapabilityNotSupported(self.code, "address validation is not supported")

    async def find_service_points(self, query: ServicePointQuery) -> list[ServicePoint]:
        """Pickup points near the queried address, nearest first, at most `query.limit`.

        An area the carrier serves but has no point in gives []. Raises
        CapabilityNotSupported where the carrier has no locator, CarrierRejected
        for a query it refuses (an unknown postal code), and the transport
        errors of `track`.
        """
        raise CapabilityNotSupported(self.code, "service point search is not supported")

    async def rate(self, request: RateRequest) -> list[RateQuote]:
        """Price `request` with every service the carrier offers on that lane; one quote per service.

        Raises CapabilityNotSupported where the carrier has no rating API,
        CarrierRejected when it refuses the request (an unserved lane, a bad
        postal code), and the transport errors of `track`.
        """
        raise CapabilityNotSupported(self.code, "rating is not supported")


def blank_number_result(number: str) -> TrackingResult:
    """The found=False result for a blank tracking number, given without asking the carrier."""
    return TrackingResult(tracking_number=number, found=False, error="empty tracking number")


async def track_concurrently(
    tracking_numbers: Sequence[str],
    track_one: Callable[[str], Awaitable[TrackingResult]],
    *,
    limit: int,
) -> list[TrackingResult]:
    """`track_one` for every number, at most `limit` running at once; one result per number, in input order.

    For carriers that take one number per request. The first call to fail
    cancels the calls still running and its exception is raised alone
    (callers expect one `CarrierError`, not an exception group).
    """
    if len(tracking_numbers) == 1:
        return [await track_one(tracking_numbers[0])]
    semaphore = asyncio.Semaphore(limit)

    async def limited(number: str) -> TrackingResult:
        async with semaphore:
            return await track_one(number)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(limited(number)) for number in tracking_numbers]
    except BaseExceptionGroup as group_error:
        raise group_error.exceptions[0] from None
    return [task.result() for task in tasks]
