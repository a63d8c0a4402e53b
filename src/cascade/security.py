"""Secrets: API keys, bot-token hashes, and short-link codes.

API keys are 256-bit random strings, so a single SHA-256 is a sound way to store them
(a slow password hash protects guessable secrets, which these are not) and costs a
microsecond on every request.
"""

from __future__ import annotations

import hashlib
import secrets

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
LINK_CODE_LENGTH = 8  # 62^8 ≈ 2.2e14 codes: unguessable, never sequential


def new_api_key() -> str:
    return "csk_" + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_link_code() -> str:
    number = secrets.randbits(48)
    chars = []
    for _ in range(LINK_CODE_LENGTH):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)
