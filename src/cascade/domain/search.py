"""The console's message search (SPEC F): what may be asked, and one page of what was
found.

Every filter is optional and they all apply together: a phone (the start of an E.164
number: `+38050` finds every number beginning so), a tracking id (exactly), a message
status, the channel a message last went by, and a period of acceptance (from inclusive,
until exclusive). Pages list the latest accepted first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PER_PAGE = 25
MAX_PER_PAGE = 200
MAX_PHONE_DIGITS = 15  # E.164

_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")


def phone_prefix(typed: str) -> str | None:
    """What a person typed as a phone, as the start of an E.164 number (`+` and digits),
    or None when it is not one: spaces, dots, dashes and brackets are dropped and the
    `+` is optional; a number never starts with 0."""
    bare = _PHONE_PUNCTUATION.sub("", typed).removeprefix("+")
    if not bare or not bare.isascii() or not bare.isdigit():
        return None
    if bare.startswith("0") or len(bare) > MAX_PHONE_DIGITS:
        return None
    return "+" + bare


@dataclass(frozen=True, slots=True)
class MessageQuery:
    phone_prefix: str | None = None  # "+38050": numbers that begin so
    tracking_id: str | None = None
    status: str | None = None
    channel: str | None = None
    since_ms: int | None = None  # accepted at or after
    until_ms: int | None = None  # accepted before
    offset: int = 0
    limit: int = PER_PAGE

    def __post_init__(self) -> None:
        if self.phone_prefix is not None and phone_prefix(self.phone_prefix) != self.phone_prefix:
            raise ValueError(f"not the start of an E.164 number: {self.phone_prefix!r}")
        if self.offset < 0 or not 1 <= self.limit <= MAX_PER_PAGE:
            raise ValueError(f"a page is 1-{MAX_PER_PAGE} messages from a non-negative offset")


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """A message as a search lists it."""

    id: str
    tracking_id: str
    phone: str
    status: str
    channel: str | None
    reason: str | None
    message_type: str
    created_at_ms: int
    updated_at_ms: int


@dataclass(frozen=True, slots=True)
class MessagePage:
    total: int  # messages that match, on every page
    items: tuple[MessageSummary, ...]
