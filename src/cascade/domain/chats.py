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
