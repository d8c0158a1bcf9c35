"""Integration credentials at rest: JSON encrypted with Fernet, several keys for rotation (MultiFernet).

`CREDENTIALS_ENCRYPTION_KEYS` holds comma-separated Fernet keys (32 url-safe
base64 bytes each, `Fernet.generate_key()`), newest first. The first key
encrypts; every key is tried to decrypt. Rotation:

1. put a new key first: `CREDENTIALS_ENCRYPTION_KEYS=<new>,<old>` (old
   ciphertexts keep decrypting, new writes use the new key);
2. run `courier-hub rotate-credentials` (re-encrypts every integration under
   the new key with `MultiFernet.rotate`);
3. drop the old key from the list.

No key is ever derived or defaulted: without one, using credentials raises
`CredentialsKeyError` naming the variable to set.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.core.config import Settings

SETTING_NAME = "CREDENTIALS_ENCRYPTION_KEYS"


class CredentialsKeyError(RuntimeError):
    """The encryption keys are missing or malformed (a server configuration error, not a client one)."""


class CredentialsDecryptError(RuntimeError):
    """A ciphertext decrypts under none of the configured keys (a key was removed too early, or the data is corrupt)."""


class CredentialsCipher:
    """Encrypts/decrypts a credentials dict as a Fernet token (ASCII text) under a MultiFernet."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise CredentialsKeyError(f"no credentials encryption key configured: set {SETTING_NAME}")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError) as exc:
                # never echo the key itself
                raise CredentialsKeyError(
                    f"{SETTING_NAME}: key #{position} is not a Fernet key (32 url-safe base64-encoded bytes)"
                ) from exc
        self._multi = MultiFernet(fernets)
        self.key_count = len(fernets)

    def encrypt(self, credentials: dict[str, Any]) -> str:
        """The Fernet token (ASCII) of `credentials` as compact JSON, under the newest key."""
        plaintext = json.dumps(credentials, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return self._multi.encrypt(plaintext).decode("ascii")

    def decrypt(self, token: str) -> dict[str, Any]:
        """The credentials dict of a token made by `encrypt` under any configured key.

        Raises CredentialsDecryptError when no configured key opens it.
        """
        try:
            plaintext = self._multi.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise CredentialsDecryptError(
                f"stored credentials decrypt under none of the {self.key_count} key(s) in {SETTING_NAME}"
            ) from exc
        value = json.loads(plaintext)
        if not isinstance(value, dict):
            raise CredentialsDecryptError("stored credentials are not a JSON object")
        return value

    def rotate(self, token: str) -> str:
        """Re-encrypt `token` under the newest key (MultiFernet.rotate keeps the original timestamp).

        Raises CredentialsDecryptError when no configured key opens it.
        """
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise CredentialsDecryptError(
                f"stored credentials decrypt under none of the {self.key_count} key(s) in {SETTING_NAME}"
            ) from exc


def parse_keys(value: str | None) -> list[str]:
    """The keys of a comma-separated setting value, blanks dropped, order kept (newest first)."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@lru_cache(maxsize=8)
def _cipher_for(keys: tuple[str, ...]) -> CredentialsCipher:
    return CredentialsCipher(list(keys))


def cipher_from_settings(settings: Settings) -> CredentialsCipher:
    """The cipher for `settings.credentials_encryption_keys`; raises CredentialsKeyError if unset or malformed."""
    secret = settings.credentials_encryption_keys
    keys = parse_keys(secret.get_secret_value() if secret is not None else None)
    if not keys:
        raise CredentialsKeyError(
            f"no credentials encryption key configured: set {SETTING_NAME} to a Fernet key "
            '(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")'
        )
    return _cipher_for(tuple(keys))
