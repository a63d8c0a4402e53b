"""Secrets: API keys, bot-token hashes, logins' passwords, and short-link codes.

API keys are 256-bit random strings, so a single SHA-256 is a sound way to store them
(a slow password hash protects guessable secrets, which these are not) and costs a
microsecond on every request. Passwords are chosen by people, so they are kept as
memory-hard argon2id hashes (`Passwords`).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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


# --- logins and their passwords ---------------------------------------------------------

LOGIN_MAX = 200  # the `logins.login` column
API_KEY_USER = "@"  # HTTP Basic with this user carries an API key as its password (D2)


def login_problem(login: str) -> str | None:
    """Why `login` cannot be a login name, or None. HTTP Basic carries it before the
    first colon, so it has none; `@` is the API-key user; no spaces or control
    characters (they do not survive a copy from a terminal)."""
    if not login:
        return "the login is empty"
    if len(login) > LOGIN_MAX:
        return f"the login is longer than {LOGIN_MAX} characters"
    if login == API_KEY_USER:
        return f"the login {API_KEY_USER!r} is reserved for an API key as the password"
    if ":" in login:
        return "the login cannot contain ':' (HTTP Basic ends the login at the first one)"
    if any(c.isspace() or unicodedata.category(c).startswith("C") for c in login):
        return "the login cannot contain spaces or control characters"
    return None


def new_password() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class Verified:
    ok: bool
    rehashed: str | None = None  # the password's new hash, when the stored one is outdated


class Passwords:
    """Logins' passwords as argon2id hashes (argon2-cffi's `PasswordHasher`, whose
    default is RFC 9106's low-memory profile: 64 MiB, 3 passes). Verifying takes tens of
    milliseconds on purpose, so callers run it off the event loop."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> Verified:
        """Whether `password` is the one `stored` was made of, and its new hash when
        `stored` was made with other parameters than the hasher's. With no stored hash
        (no such login) it verifies against a dummy hash of the same parameters, so an
        unknown login takes as long to refuse as a wrong password."""
        try:
            self._hasher.verify(stored if stored is not None else self._dummy_hash(), password)
        except (VerificationError, InvalidHashError):  # a mismatch, or a corrupt hash
            return Verified(False)
        if stored is None:  # the dummy's password is random: never matched
            return Verified(False)
        if self._hasher.check_needs_rehash(stored):
            return Verified(True, self._hasher.hash(password))
        return Verified(True)

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(32))
        return self._dummy
