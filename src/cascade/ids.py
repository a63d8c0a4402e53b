"""Random version-4 UUIDs, cheaply, for the ids the engine and intake make by the thousand.

`str(uuid.uuid4())` makes one `os.urandom(16)` system call and one `UUID` object per id,
a few microseconds each. `new_id` takes its randomness from a pool filled by one
`os.urandom` call per 256 ids and formats the string directly; the result is the same
kind of id (122 random bits, version 4, RFC 4122 variant). The pool is emptied in a
forked child, so two processes never hand out the same ids.
"""

from __future__ import annotations

import os

_IDS_PER_FILL = 256
_VARIANT = "89ab89ab89ab89ab"  # the RFC 4122 variant bits (10xx) over the random nibble


class _Pool:
    hex = ""
    at = 0


_pool = _Pool()


def _empty() -> None:
    _pool.hex, _pool.at = "", 0


os.register_at_fork(after_in_child=_empty)


def new_id() -> str:
    """A random UUID (version 4) in its canonical 36-character form."""
    at = _pool.at
    if at >= len(_pool.hex):
        _pool.hex, at = os.urandom(16 * _IDS_PER_FILL).hex(), 0
    h = _pool.hex[at : at + 32]
    _pool.at = at + 32
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16)]}{h[17:20]}-{h[20:]}"
