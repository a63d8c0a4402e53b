"""RBM's timestamps, read and written as its documentation has them.

RBM's times (`expireTime`, `sendTime`, a Pub/Sub push's `publishTime`) are
`google.protobuf.Timestamp` values in JSON: RFC 3339, "where generated output will
always be Z-normalized and uses 0, 3, 6 or 9 fractional digits. Offsets other than "Z"
are also accepted." An RFC 3339 date-time always carries its offset (`Z`, or `+hh:mm` /
`-hh:mm`): a time without one is no timestamp, and RBM refuses it (400
INVALID_ARGUMENT) rather than guess its zone. Times are kept in epoch milliseconds.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Final

# RFC 3339 §5.6 date-time: full-date "T" full-time, the fraction up to nine digits (a
# protobuf Timestamp counts nanoseconds), the offset required. "T" and "Z" may be written
# in lower case (§5.6, note).
_DATE_TIME: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS: Final = dt.timedelta(milliseconds=1)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def format_ms(ms: int) -> str:
    """A time as RBM writes it: UTC, `Z`, three fractional digits."""
    moment = dt.datetime.fromtimestamp(ms // 1000, dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_ms(value: str) -> int | None:
    """Epoch milliseconds of an RFC 3339 timestamp (a fraction beyond them is cut off);
    None for anything else: no offset, no such date or time, another layout."""
    found = _DATE_TIME.fullmatch(value)
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, offset_h, offset_m = found.groups()
    try:
        # protobuf Timestamps have no leap second: second 60 is refused with the rest
        local = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=dt.UTC
        )
    except ValueError:
        return None
    offset_min = 0
    if sign is not None:
        if int(offset_h) > 23 or int(offset_m) > 59:
            return None
        offset_min = (int(offset_h) * 60 + int(offset_m)) * (1 if sign == "+" else -1)
    millis = int((fraction or "").ljust(3, "0")[:3])
    # the local time is UTC plus the offset, so UTC is the local time less it
    return (local - _EPOCH) // _MS - offset_min * 60_000 + millis
