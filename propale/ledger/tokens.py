"""The secret of a customer link: its hash is stored, to find the proposal when the link is
opened, and a copy sealed with `propale_secret_key`, so that the DAGs can write the link again."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # what secrets.token_urlsafe(32) produces


def new_token() -> str:
    """An unguessable token for a customer link."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _sealer(key: str) -> Fernet:
    """Fernet (AES-128-CBC and HMAC-SHA256) with a key of its own derived from `key`, so that the
    same secret never serves two purposes as is."""
    derived = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"propale-link-seal").derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal_token(key: str, token: str) -> str:
    """The token encrypted with `key` (`propale_secret_key`), for the ledger: whoever holds the key
    (the DAGs) can write the link again; the customer page and a copy of the ledger cannot."""
    return _sealer(key).encrypt(token.encode()).decode()


def unseal_token(key: str, sealed: str) -> str | None:
    """The token `seal_token` sealed, or None if it was sealed with another key."""
    try:
        return _sealer(key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None
