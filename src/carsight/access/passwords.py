"""Secrets of users: slow password hashes, random tokens and their keyed digests.

Passwords are short and chosen by people, so they are stored only as Argon2id hashes (argon2-cffi),
which make each guess cost tens of milliseconds and megabytes. API and session tokens are long and
random (``secrets.token_urlsafe``), so a fast keyed digest is enough: HMAC-SHA256 with a server key
that lives in a 0600 file beside the store, so a copy of the store alone cannot be matched against
tokens, and looking a token up is one indexed query.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_BYTES = 32  # 43 URL-safe characters
PASSWORD_BYTES = 12  # 16 URL-safe characters: a one-time password, changed at first sign-in
KEY_BYTES = 32


def new_token() -> str:
    """A new API or session token: 43 URL-safe characters (``A-Z a-z 0-9 - _``)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_password() -> str:
    """A new one-time password: 16 URL-safe characters."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def hash_password(hasher: PasswordHasher, password: str) -> str:
    """The Argon2id hash of ``password`` (salt and parameters inside the string)."""
    return hasher.hash(password)


def verify_password(hasher: PasswordHasher, stored: str, password: str) -> bool:
    """Whether ``password`` matches the stored hash (in constant time for the password)."""
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(key: bytes, token: str) -> str:
    """The keyed digest stored for a token: HMAC-SHA256 in hex."""
    return hmac.new(key, token.encode("utf-8"), hashlib.sha256).hexdigest()


def server_key(path: Path) -> bytes:
    """The server key in ``path``, created (readable by its owner only) on first use.

    Parameters
    ----------
    path : Path
        The key file, beside the store.

    Returns
    -------
    bytes
        The 32-byte key.
    """
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
        try:
            # A hard link appears whole and fails if the name exists: when two processes create the
            # key at once, one wins and both read its key.
            os.link(staging, path)
        except FileExistsError:
            pass
        finally:
            staging.unlink()
        key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"the server key {path} is damaged ({len(key)} bytes, expected {KEY_BYTES})")
    return key
