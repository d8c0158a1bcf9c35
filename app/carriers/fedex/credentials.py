"""The credentials of a FedEx integration (published as JSON Schema; validated before any call).

Sources: FedEx API Authorization (`POST /oauth/token`, the project's API key
and secret key as `client_id` / `client_secret`); Ship API
(`carrier-samples/fedex/openapi-ship-api.json`): `accountNumber.value`
"Maximum length is 9", `requestedShipment.pickupType` enum.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

PickupType = Literal["DROPOFF_AT_FEDEX_LOCATION", "USE_SCHEDULED_PICKUP", "CONTACT_FEDEX_TO_SCHEDULE"]


class FedexCredentials(BaseModel):
    """A FedEx integration: the API key/secret of a FedEx developer project (Track and Ship APIs) and the account."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    client_id: str = Field(min_length=1, description="FedEx project API key (OAuth client_id).")
    client_secret: SecretStr = Field(description="FedEx project secret key (OAuth client_secret).")
    account_number: str = Field(min_length=1, description="FedEx account number (9 digits); bookings are billed to it.")
    pickup_type: PickupType = Field(
        default="DROPOFF_AT_FEDEX_LOCATION",
        description="How parcels reach FedEx (Ship API `pickupType`): dropped off, a regular scheduled pickup, "
        "or a pickup to be booked with FedEx.",
    )
