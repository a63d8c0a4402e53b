"""ChatHub's organizations and operators (SPEC E2), and the rules that place chats with
operators: pure values and functions, no I/O.

- An *organization* belongs to an account and owns some of the account's bots; a chat
  with one of those bots belongs to the organization.
- An *operator* belongs to one organization. Its id is an integer unique within its
  account: the company's own id when it synchronized one, else the next after the
  account's highest (`next_operator_id`).
- The *assignment rule*: a chat goes to the active operator of its organization with the
  fewest open chats (the lowest id among equals, so the choice is reproducible), or waits
  unassigned when none is active (`choose_operator`).
- An operator's status change (`placements_after`): one that stops being active hands
  its open chats on, each by the same rule among the others, or releases them
  (unassigned); one that becomes active takes the organization's unassigned open chats,
  by the rule among every active operator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from cascade.domain.events import BotChatMessage, ChatContent, ChatMessageStatus

# JSON numbers beyond this lose precision in JavaScript clients (Number.MAX_SAFE_INTEGER)
MAX_ID = 2**53 - 1
NAME_MAX = 200  # the `organizations.name` and `operators.name` columns


class OperatorStatus(IntEnum):
    """The provider's numbering (SPEC E2)."""

    ACTIVE = 0
    INACTIVE = 1  # keeps its token and its view; is given no chats
    DELETED = 2  # its tokens stop working; is given no chats


class ChatStatus(IntEnum):
    """A chat's status, in the provider's numbering (SPEC E3); all but CLOSED are open."""

    NEW = 0
    OPEN = 1
    WAITING = 2
    ON_PAUSE = 3
    CLOSED = 4

    @property
    def is_open(self) -> bool:
        return self is not ChatStatus.CLOSED


@dataclass(frozen=True, slots=True)
class Organization:
    id: int
    account_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Operator:
    id: int  # unique within the account (see the module's docstring)
    account_id: str
    organization_id: int
    name: str
    status: OperatorStatus


@dataclass(frozen=True, slots=True)
class OperatorSync:
    """One item of `POST /api/operator/synchronize`: the operator with this id (created
    with it if the account has none), or a new operator when `id` is None."""

    organization_id: int
    name: str
    id: int | None = None


@dataclass(frozen=True, slots=True)
class OperatorLoad:
    """An operator as the assignment rule sees it."""

    id: int
    status: OperatorStatus
    open_chats: int


def name_problem(name: str) -> str | None:
    """Why `name` cannot be an organization's or an operator's name, or None."""
    if not name.strip():
        return "the name is empty"
    if len(name) > NAME_MAX:
        return f"the name is longer than {NAME_MAX} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "the name cannot contain control characters"
    return None


def is_id(value: object) -> bool:
    """Whether `value` (from JSON) is an id: a whole number 1 … MAX_ID, not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


@dataclass(frozen=True, slots=True)
class OperatorChange:
    """An operator's status set: the operator as it is now, and the chats the change
    placed (`placements_after`), each as it is now: its new operator, or none."""

    operator: Operator
    placed: list[Chat]


def next_operator_id(taken: Iterable[int]) -> int:
    """The id of an operator created without one: after the account's highest, so never
    one the company has used, nor one used before and deleted since (deleted operators
    keep their rows)."""
    return max(taken, default=0) + 1


def choose_operator(operators: Iterable[OperatorLoad]) -> int | None:
    """The active operator with the fewest open chats (the lowest id among equals); None
    when no operator is active."""
    best: OperatorLoad | None = None
    for op in operators:
        if op.status is not OperatorStatus.ACTIVE:
            continue
        if best is None or (op.open_chats, op.id) < (best.open_chats, best.id):
            best = op
    return best.id if best is not None else None


def place_chats(chats: Sequence[int], operators: Iterable[OperatorLoad]) -> dict[int, int | None]:
    """Each chat (in the given order) to the operator `choose_operator` picks, counting
    the chats already placed: chat id → operator id, or None (unassigned)."""
    loads = {op.id: op for op in operators}
    placed: dict[int, int | None] = {}
    for chat in chats:
        chosen = choose_operator(loads.values())
        placed[chat] = chosen
        if chosen is not None:
            op = loads[chosen]
            loads[chosen] = OperatorLoad(op.id, op.status, op.open_chats + 1)
    return placed


def placements_after(
    operator_id: int,
    new_status: OperatorStatus,
    operators: Iterable[OperatorLoad],
    own_open_chats: Sequence[int],
    unassigned_open_chats: Sequence[int],
) -> dict[int, int | None]:
    """What `operator_id`'s change to `new_status` does to chats of its organization:
    chat id → its new operator (None: released, unassigned). Chats not named keep theirs.

    `operators` are the organization's operators as they were before the change (loads
    counting open chats), `own_open_chats` the changing operator's open chats, and
    `unassigned_open_chats` the organization's open chats with no operator, oldest first.
    """
    others = [op for op in operators if op.id != operator_id]
    if new_status is OperatorStatus.ACTIVE:
        own = len(own_open_chats)
        everyone = [*others, OperatorLoad(operator_id, OperatorStatus.ACTIVE, own)]
        return place_chats(unassigned_open_chats, everyone)
    return place_chats(own_open_chats, others)


def open_counts(assigned: Iterable[int | None]) -> Mapping[int, int]:
    """Open chats per operator, from each open chat's operator (None: unassigned)."""
    counts: dict[int, int] = {}
    for op in assigned:
        if op is not None:
            counts[op] = counts.get(op, 0) + 1
    return counts


# --- chats and their messages (SPEC E3) ------------------------------------------------------

MAX_MEDIA_BYTES = 20 * 1024 * 1024  # a stored media, a person's or an operator's upload
MAX_CHAT_TEXT = 4096  # an operator's message (Telegram's limit; Viber's is 7,000)
MAX_PER_PAGE = 100
MEDIA_NAME_MAX = 200


class Author(IntEnum):
    OPERATOR = 0
    CLIENT = 1


def after_receipt(
    current: ChatMessageStatus, reported: ChatMessageStatus
) -> ChatMessageStatus | None:
    """An operator's message's status after a platform's receipt; None: unchanged. Receipts
    only move forward (New → Success → Read); a refusal counts only before delivery, and a
    Rejected message stays so."""
    rank = {ChatMessageStatus.NEW: 0, ChatMessageStatus.SUCCESS: 1, ChatMessageStatus.READ: 2}
    if current is ChatMessageStatus.REJECTED or current is reported:
        return None
    if reported is ChatMessageStatus.REJECTED:
        return reported if current is ChatMessageStatus.NEW else None
    return reported if rank[reported] > rank[current] else None


@dataclass(frozen=True, slots=True)
class Chat:
    id: int
    account_id: str
    organization_id: int | None  # its bot's organization when it began; None: no owner
    bot_id: str
    channel: str
    address: str  # the person as the platform names them (Telegram chat id, Viber user id)
    client_name: str | None
    client_phone: str | None  # E.164, when the person shared it with the bot
    status: ChatStatus
    operator_id: int | None
    theme: str | None
    created_at_ms: int
    last_message_at_ms: int
    unread: int  # the person's messages since an operator last read the chat
    first_client_at_ms: int | None  # the person's first message
    first_response_at_ms: int | None  # the first operator message after it


@dataclass(frozen=True, slots=True)
class StoredMediaInfo:
    """A media as a message names it (its bytes are read apart)."""

    id: int
    name: str
    mime: str
    size: int
    token: str  # the unguessable part of its public URL


@dataclass(frozen=True, slots=True)
class ChatMessage:
    id: int
    chat_id: int
    author: Author
    text: str
    content: str  # cascade.domain.events.ChatContent's values
    status: ChatMessageStatus
    created_at_ms: int
    provider_id: str | None = None
    media: StoredMediaInfo | None = None
    media_pending: bool = False  # a person's media not fetched yet
    media_error: str | None = None  # why its last fetch failed


@dataclass(frozen=True, slots=True)
class NewMedia:
    """An operator's upload, or a person's media fetched from the platform."""

    name: str
    mime: str
    data: bytes


@dataclass(frozen=True, slots=True)
class StoredMedia:
    info: StoredMediaInfo
    account_id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ChatArrival:
    """A person's message stored: its chat (as it is now), the message, and whether the
    chat began with it or was reopened by it."""

    chat: Chat
    message: ChatMessage
    created: bool
    reopened: bool = False  # the chat was Closed: the person's message made it New again


@dataclass(frozen=True, slots=True)
class ChatEntry:
    """A message and its chat, as they are now (after a store's write)."""

    chat: Chat
    message: ChatMessage


@dataclass(frozen=True, slots=True)
class PendingMedia:
    """A person's media still to fetch: which message, through which bot."""

    message_id: int
    chat_id: int
    bot_id: str
    channel: str
    ref: str
    name: str | None
    mime: str | None
    size: int | None
    tries: int


@dataclass(frozen=True, slots=True)
class ChatQuery:
    """`GET /api/chat/chats`'s filters (SPEC E3). `organization_ids`: what the caller may
    see; `date_from_ms`/`date_to_ms` bound the last message's time (inclusive)."""

    organization_ids: frozenset[int]
    include_unowned: bool = False  # chats of bots no organization owns (a company sees them)
    page: int = 1
    per_page: int = 20
    search: str | None = None  # in the person's name, phone or the messages' text
    channel: str | None = None
    date_from_ms: int | None = None
    date_to_ms: int | None = None
    address: str | None = None
    phone: str | None = None
    status: ChatStatus | None = None
    organization_id: int | None = None
    operator_id: int | None = None


@dataclass(frozen=True, slots=True)
class ChatPage:
    total: int
    items: list[Chat]


@dataclass(frozen=True, slots=True)
class ChatStats:
    """For the console (SPEC F): chats by status, and each answered chat's first-response
    time (from the person's first message to the first operator message), in ms."""

    by_status: Mapping[ChatStatus, int]
    first_response_ms: Sequence[int]

    @property
    def median_first_response_ms(self) -> int | None:
        ordered = sorted(self.first_response_ms)
        if not ordered:
            return None
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) // 2


def first_response_ms(chat: Chat) -> int | None:
    if chat.first_client_at_ms is None or chat.first_response_at_ms is None:
        return None
    return max(0, chat.first_response_at_ms - chat.first_client_at_ms)


def media_name_problem(name: str) -> str | None:
    if not name.strip():
        return "the name is empty"
    if len(name) > MEDIA_NAME_MAX:
        return f"the name is longer than {MEDIA_NAME_MAX} characters"
    if any(ord(c) < 32 or ord(c) == 127 or c in '/\\"' for c in name):
        return "the name cannot contain control characters, slashes or quotes"
    return None


@dataclass(frozen=True, slots=True)
class ChatReceipts:
    """What platforms' receipts did: for each report, whether it was for an operator's
    message (the others are the engine's), and the messages whose status changed."""

    matched: list[bool]
    changed: list[ChatEntry]


def client_text(message: BotChatMessage) -> str:
    """What a person's message says, as text: its text or caption, a location's
    coordinates, a contact card's name and phone."""
    parts: list[str] = []
    if message.location is not None:
        parts.append(f"Location: {message.location.lat:.6f}, {message.location.lon:.6f}")
    if message.contact is not None:
        card = message.contact
        parts.append(
            f"Contact: {card.name} {card.phone}" if card.name else f"Contact: {card.phone}"
        )
    if message.text:
        parts.append(message.text)
    if not parts and message.content is not ChatContent.TEXT:
        parts.append(f"[{message.content.value}]")
    return "\n".join(parts)
