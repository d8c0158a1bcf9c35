"""Webhook secrets (Standard Webhooks `whsec_` form) and their sealing for storage.

Both directions use them: a merchant's webhook endpoint signs what we send
(app.webhooks.signing) and an integration's secret authenticates what a
carrier pushes (app.shipments.inbound). Stored secrets are Fernet tokens of
the configured CREDENTIALS_ENCRYPTION_KEYS (app.core.crypto).
"""

from __future__ import annotations

import base64
import secrets

from app.core.crypto import CredentialsCipher

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
"""Random bytes per signing secret (the spec asks for 24 to 64)."""


def new_secret() -> str:
    """A fresh signing secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def seal(cipher: CredentialsCipher, secret: str) -> str:
    """The secret encrypted for storage (a Fernet token)."""
    return cipher.encrypt({"secret": secret})


def unseal(cipher: CredentialsCipher, token: str) -> str:
    """The secret of a token made by `seal`; raises CredentialsDecryptError if no configured key opens it."""
    return str(cipher.decrypt(token)["secret"])
