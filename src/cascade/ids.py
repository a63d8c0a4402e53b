"""Time-ordered UUIDs (version 7, RFC 9562), cheaply, for the ids the engine and intake
make by the thousand.

A version-7 id starts with the Unix time in milliseconds, so ids made close in time sort
close together. The rows keyed by them (messages, tasks, attempts) are then appended at
the right edge of their B-trees instead of landing on a random page each: a commit writes
a few pages for a thousand rows, not a page per row (SQLite's WAL and PostgreSQL's
full-page images both pay per page). The other 74 bits are random, so an id is still not
guessable; the time it shows is the message's `createdAt`, which its status shows anyway.

`str(uuid.uuid4())` would make one `os.urandom(16)` system call and one `UUID` object per
id. `new_id` takes its randomness from a pool filled by one `os.urandom` call per 256 ids
and formats the string directly (`random_hex` draws from the same pool). The pool is
emptied in a forked child, so two processes never hand out the same ids.
"""

from __future__ import annotations

import os
import time

_IDS_PER_FILL = 256
_VARIANT = "89ab89ab89ab89ab"  # the RFC 4122 variant bits (10xx) over the random nibble


class _Pool:
    hex = ""
    at = 0


_pool = _Pool()


def _empty() -> None:
    _pool.hex, _pool.at = "", 0


os.register_at_fork(after_in_child=_empty)


def random_hex(digits: int) -> str:
    """`digits` random hexadecimal digits (at most 32 * 256) from the pool."""
    at = _pool.at
    if at + digits > len(_pool.hex):
        _pool.hex, at = os.urandom(16 * _IDS_PER_FILL).hex(), 0
    _pool.at = at + digits
    return _pool.hex[at : at + digits]


def new_id() -> str:
    """A version-7 UUID in its canonical 36-character form: 48 bits of Unix milliseconds,
    then 74 random bits."""
    h = random_hex(32)
    ms = f"{time.time_ns() // 1_000_000:012x}"
    return f"{ms[:8]}-{ms[8:]}-7{h[13:16]}-{_VARIANT[int(h[16], 16)]}{h[17:20]}-{h[20:]}"
