"""Logins' passwords (`cascade.security.Passwords`) and the names a login may have."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from cascade.security import LOGIN_MAX, Passwords, Verified, login_problem

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_a_password_verifies_against_its_own_hash_only() -> None:
    passwords = Passwords(CHEAP)
    stored = passwords.hash("s3cret")
    assert stored.startswith("$argon2id$")
    assert "s3cret" not in stored
    assert passwords.hash("s3cret") != stored  # salted
    assert passwords.verify(stored, "s3cret") == Verified(True)
    assert passwords.verify(stored, "s3cret ") == Verified(False)
    assert passwords.verify(stored, "") == Verified(False)


def test_no_stored_hash_is_refused_after_a_verification_all_the_same() -> None:
    passwords = Passwords(CHEAP)
    assert passwords.verify(None, "") == Verified(False)
    assert passwords.verify(None, "anything") == Verified(False)


@pytest.mark.parametrize("stored", ["", "not a hash", "$argon2id$v=19$m=8,t=1,p=1$broken"])
def test_a_corrupt_stored_hash_never_matches(stored: str) -> None:
    assert Passwords(CHEAP).verify(stored, "s3cret") == Verified(False)


def test_a_hash_of_other_parameters_comes_back_rehashed() -> None:
    older = PasswordHasher(time_cost=2, memory_cost=8, parallelism=1).hash("s3cret")
    verified = Passwords(CHEAP).verify(older, "s3cret")
    assert verified.ok
    assert verified.rehashed is not None
    assert not CHEAP.check_needs_rehash(verified.rehashed)
    assert Passwords(CHEAP).verify(verified.rehashed, "s3cret") == Verified(True)
    assert Passwords(CHEAP).verify(older, "wrong") == Verified(False)  # no rehash on a miss


def test_the_default_hasher_is_memory_hard() -> None:
    """argon2id with RFC 9106's low-memory profile: 64 MiB, 3 passes."""
    stored = Passwords().hash("s3cret")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,")


@pytest.mark.parametrize("login", ["shop", "ops@acme.example", "магазин", "a", "x" * LOGIN_MAX])
def test_logins_basic_can_carry(login: str) -> None:
    assert login_problem(login) is None


@pytest.mark.parametrize(
    ("login", "reason"),
    [
        ("", "empty"),
        ("x" * (LOGIN_MAX + 1), "longer"),
        ("@", "reserved"),
        ("shop:1", "':'"),
        ("my shop", "spaces"),
        ("shop\t", "spaces"),
        ("shop\x00", "control"),
        ("shop\u200e", "control"),  # a bidi mark: invisible when printed
    ],
)
def test_logins_refused(login: str, reason: str) -> None:
    problem = login_problem(login)
    assert problem is not None
    assert reason in problem
