"""Secrets we must be able to use again (a bank's TAXII token, its webhook HMAC key), encrypted at rest.

They cannot be hashed, so they are sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived by
HKDF-SHA256 from the installation secret (`Settings.secret_key`). A sealed value reads `sealed:v1:<token>`;
anything without that prefix was written before sealing existed and is returned as it is, so old rows keep
working until they are sealed on their next write (or by `shieldwall match bank reseal`).
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "sealed:v1:"
# A distinct label keeps this key independent of anything else derived from the same installation secret.
_INFO = b"shieldwall match bank secrets v1"


class SealError(ValueError):
    """The value was sealed under another installation secret, or it was altered."""


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    if not secret_key:
        raise SealError("no installation secret key to seal or unseal with")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def seal(secret_key: str, plaintext: str) -> str:
    """Empty stays empty: an unset secret must still read as unset."""
    if not plaintext:
        return ""
    return PREFIX + _fernet(secret_key).encrypt(plaintext.encode()).decode("ascii")


def unseal(secret_key: str, stored: str) -> str:
    if not is_sealed(stored):
        return stored
    try:
        return _fernet(secret_key).decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise SealError("cannot be decrypted with this installation's secret key") from None
