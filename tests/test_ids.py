"""`cascade.ids.new_id`: canonical time-ordered version-7 UUIDs, distinct across a fork."""

from __future__ import annotations

import os
import time
import uuid

from cascade.ids import new_id, random_hex


def test_ids_are_canonical_version_7_uuids() -> None:
    for _ in range(2_000):  # several refills of the pool
        value = new_id()
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122


def test_ids_carry_the_time_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= uuid.UUID(value).int >> 80 <= after


def test_ids_made_later_sort_later() -> None:
    first = new_id()
    time.sleep(0.002)
    assert new_id() > first


def test_ids_keep_74_random_bits() -> None:
    # every bit outside the time, version and variant fields takes both values
    random_mask = (1 << 74) - 1
    seen_one = seen_zero = 0
    for _ in range(2_000):
        n = uuid.UUID(new_id()).int
        bits = ((n >> 64) & 0xFFF) << 62 | (n & ((1 << 62) - 1))
        seen_one |= bits
        seen_zero |= ~bits & random_mask
    assert seen_one == seen_zero == random_mask


def test_ids_do_not_repeat() -> None:
    ids = [new_id() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)


def test_a_forked_child_does_not_repeat_the_parents_ids() -> None:
    new_id()  # the pool is filled in the parent before the fork
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read)
        os.write(write, "".join(new_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        from_child = pipe.read().decode()
    os.waitpid(child, 0)
    in_child = {from_child[i : i + 36] for i in range(0, len(from_child), 36)}
    in_parent = {new_id() for _ in range(10)}
    assert len(in_child) == 10
    assert not in_child & in_parent


def test_random_hex_shares_the_pool_without_reusing_digits() -> None:
    # sizes that do not divide the pool make draws straddle its refill
    drawn = [random_hex(size) for _ in range(3_000) for size in (16, 7, 32)]
    assert [len(d) for d in drawn[:3]] == [16, 7, 32]
    assert all(len(d) == size for d, size in zip(drawn, [16, 7, 32] * 3_000, strict=True))
    int("".join(drawn), 16)  # hexadecimal throughout
    wide = [d for d in drawn if len(d) >= 16]
    assert len(set(wide)) == len(wide)
