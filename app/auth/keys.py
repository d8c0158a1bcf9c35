"""API key material: generation and hashing.

A key looks like `chub_<8 public chars>_<43 secret chars>`: the first part
(`chub_xxxxxxxx`) is the readable prefix shown in listings; the whole key has
256 bits of randomness from `secrets`. Only its SHA-256 hex digest is stored
(a fast hash is right here: the input is high-entropy, unlike a password).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from app.api.principal import hash_key

KEY_NAMESPACE = "chub"
_PUBLIC_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key: `key` is shown once; `prefix` and `key_hash` are stored."""

    key: str
    prefix: str
    key_hash: str


def generate_key() -> NewKey:
    """A new random key with its display prefix and hash."""
    public = "".join(secrets.choice(_PUBLIC_ALPHABET) for _ in range(8))
    prefix = f"{KEY_NAMESPACE}_{public}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(key=key, prefix=prefix, key_hash=hash_key(key))
