"""Base class of carrier adapters whose API takes an OAuth2 client-credentials bearer token (FedEx, UPS).

Protocols: RFC 6749 §4.4 (client credentials grant) for the token, RFC 6750
§2.1 (`Authorization: Bearer`) for the API calls; a 401 reply means the
token is expired or revoked (RFC 6750 §3.1 `invalid_token`). The carrier
documents followed for each token endpoint are named in `app.carriers.oauth`
(FedEx API Authorization `POST /oauth/token`, credentials in the form body;
UPS OAuth Client Credentials `POST /security/v1/oauth/token`, HTTP Basic)
and in the adapter modules `app.carriers.fedex.adapter` and `app.carriers.ups.adapter`.

A subclass sets `token_path` and `token_basic_auth`, has a credentials model
with `client_id` and `client_secret` (a `SecretStr`), and sends its API
calls through `authorized_request`. The class defines no `code`, so the
registry never takes it for a carrier.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel, SecretStr

from app.carriers.base import CarrierAdapter, Environment
from app.carriers.errors import CarrierAuthError
from app.carriers.http import CarrierHttp, redact_url
from app.carriers.oauth import OAuthTokenCache, get_token_cache

logger = logging.getLogger(__name__)


class ClientCredentials(Protocol):
    """What an OAuth adapter's credentials model must offer."""

    client_id: str
    client_secret: SecretStr


class OAuthClientCredentialsAdapter(CarrierAdapter):
    """A `CarrierAdapter` that authenticates with OAuth2 client credentials (token cached per credentials).

    Args (besides `CarrierAdapter`'s):
        token_cache: where tokens are cached; defaults to the process-wide cache.
        locale: the language the carrier should answer in (e.g. "en_US").
    """

    token_path: ClassVar[str]
    """Path of the token endpoint below the base URL, e.g. "/oauth/token"."""
    token_basic_auth: ClassVar[bool]
    """True: client id and secret go as HTTP Basic auth (UPS); False: in the form body (FedEx)."""

    def __init__(
        self,
        *,
        credentials: BaseModel,
        http: CarrierHttp,
        environment: Environment = "production",
        base_url: str | None = None,
        token_cache: OAuthTokenCache | None = None,
        locale: str = "en_US",
    ) -> None:
        super().__init__(credentials=credentials, http=http, environment=environment, base_url=base_url)
        self.token_cache = token_cache or get_token_cache()
        self.locale = locale

    @property
    def _client(self) -> ClientCredentials:
        return self.credentials  # type: ignore[return-value]

    @property
    def token_url(self) -> str:
        """Absolute URL of the carrier's OAuth token endpoint for this environment."""
        return f"{self.base_url}{self.token_path}"

    async def _token(self) -> str:
        return await self.token_cache.get_token(
            self.http,
            carrier=self.code,
            token_url=self.token_url,
            client_id=self._client.client_id,
            client_secret=self._client.client_secret.get_secret_value(),
            use_basic_auth=self.token_basic_auth,
        )

    async def test_credentials(self) -> None:
        """Fetch (or reuse) an OAuth token, the cheapest call to the carrier; raises CarrierAuthError if rejected."""
        await self._token()

    def request_headers(self) -> dict[str, str]:
        """Headers every API call carries besides `Authorization`, built afresh for each attempt.

        Subclasses add what their carrier asks for (e.g. a new transaction id per request).
        """
        return {}

    def error_detail(self, response: httpx.Response) -> str:
        """A short text of a carrier error reply for exception messages; subclasses read their error body."""
        return f"HTTP {response.status_code}"

    async def authorized_request(
        self,
        method: str,
        url: str,
        *,
        operation: str = "request",
        headers: Mapping[str, str] | None = None,
        ok_statuses: Collection[int] = (200,),
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one API call with a bearer token through `CarrierHttp.request`.

        On 401 the token is dropped from the cache and the call is sent once
        more with a fresh token. `headers` are added to `request_headers()`;
        `ok_statuses` and the other keywords (`params`, `json`, ...) are as
        for `CarrierHttp.request`. `operation` names the call in logs and errors.

        Raises CarrierAuthError when the second attempt is answered 401 too,
        and what `CarrierHttp.request` or the token request raise.
        """
        for attempt in (1, 2):
            token = await self._token()
            response = await self.http.request(
                self.code,
                method,
                url,
                headers={"Authorization": f"Bearer {token}", **self.request_headers(), **(headers or {})},
                ok_statuses=(*ok_statuses, 401),
                operation=None if operation == "request" else operation.replace(" ", "_"),
                **kwargs,
            )
            if response.status_code != 401:
                return response
            self.token_cache.invalidate(
                token_url=self.token_url,
                client_id=self._client.client_id,
                client_secret=self._client.client_secret.get_secret_value(),
                token=token,
            )
            logger.info(
                "%s: %s (%s %s) answered 401 (attempt %d); token invalidated",
                self.code,
                operation,
                method,
                redact_url(url),
                attempt,
            )
        raise CarrierAuthError(
            self.code, f"{operation} rejected the token: {self.error_detail(response)}", status_code=401
        )
