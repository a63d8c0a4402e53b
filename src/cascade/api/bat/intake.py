"""A message list's intake (SPEC D3, D4): each message checked on its own, the valid ones
committed together in one store round trip, as one message list.

A message that breaks a rule is answered `rejected` with its error and is not stored; the
others are accepted. When none can be, the request is refused with the first rejected
message's code and field: 422 for a broken rule, 400 for a malformed message.

`customerMessageId` is idempotent as the Cascade API's tracking id (A7): the same id with
the same content answers the first messageId and sends nothing again; with other content
the message is rejected (1008). A message without one is never taken for a repeat (the
core API has `customerMessageId` for that), so a list may send the same text twice.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from cascade.api.auth import Principal
from cascade.api.bat.errors import BatError, Code, Rejected
from cascade.api.bat.validate import MESSAGE_TYPE, BatType, Checked, Rules, validate
from cascade.api.bat.wire import AcceptedOut, ErrorOut, ListIn, ListOut, MessageIn
from cascade.api.wire import MAX_JSON_DEPTH, RouteOut, nested_deeper_than
from cascade.clock import Clock
from cascade.domain.content import Content, ContentKind
from cascade.domain.message import MAX_BATCH, Draft, Route
from cascade.domain.surfaces import Surface
from cascade.ids import new_id
from cascade.observer import NO_OBSERVER, Observer
from cascade.store import IntakeStore, NewMessage, TrackingIdConflict
from cascade.store.base import fresh_count

_encode = msgspec.json.encode
_list_decoder = msgspec.json.Decoder(ListIn)
_message_decoder = msgspec.json.Decoder(MessageIn)
_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_ACCEPTED = "accepted"
_REJECTED = "rejected"


class BatIntake:
    def __init__(
        self,
        store: IntakeStore,
        clock: Clock,
        carries: Mapping[str, frozenset[ContentKind]],
        parts: Callable[[str, Content], int],
        pattern: Callable[[str, Content], str | None] = lambda channel, content: None,
        observer: Observer = NO_OBSERVER,
    ) -> None:
        """`parts` counts a step's parts on a channel, `pattern` is what the answer shows of
        it before it is sent (a flash call's masked caller id), by channel name."""
        self._store = store
        self._clock = clock
        self._carries = carries
        self._parts = parts
        self._pattern = pattern
        self._observer = observer

    async def send(self, principal: Principal, body: bytes) -> ListOut:
        items, new = self._check(principal, body)
        list_id, ids = await self._accept(principal.account.id, new, items)
        if list_id is None:
            raise _first_refusal(items)
        return ListOut(list_id, [self._answer(item, ids) for item in items])

    async def preview(
        self,
        principal: Principal,
        body: bytes,
        routes: Callable[[Principal, Sequence[NewMessage]], Awaitable[list[RouteOut]]],
    ) -> ListOut:
        """A dry run (SPEC A9): the answer `send` would give — a customerMessageId stored
        with other content rejected (1008), a repeat answered with the stored message's
        id — each new message with the route `routes` says it would take, and no
        messagelistId nor new messageIds: nothing is stored. A list none of whose messages
        could be accepted is refused as `send` refuses it."""
        items, new = self._check(principal, body)
        tracked = {
            e.message.draft.tracking_id
            for e in new
            if e is not None and e.message.draft.tracking_id is not None
        }
        stored = await self._store.stored_tracking_ids(principal.account.id, tracked)
        ids: dict[int, str] = {}  # a repeat's slot -> the stored message's id
        for slot, entry in enumerate(new):
            draft = entry.message.draft if entry is not None else None
            found = stored.get(draft.tracking_id or "") if draft is not None else None
            if draft is None or found is None:
                continue
            if found[1] == draft.fingerprint:
                ids[slot] = found[0]
                continue
            _reject_duplicate(items, new, slot)
        if all(entry is None for entry in new):
            raise _first_refusal(items)
        fresh = [(s, e.message) for s, e in enumerate(new) if e is not None and s not in ids]
        found_routes = await routes(principal, [message for _, message in fresh])
        by_slot = {s: route for (s, _), route in zip(fresh, found_routes, strict=True)}
        answers = []
        known = ids | dict.fromkeys(by_slot, "")  # a new one's id is taken out below
        for item in items:
            answer = self._answer(item, known)
            if item.slot in by_slot:  # new: no id, since none is made
                answer = msgspec.structs.replace(answer, messageId=None, route=by_slot[item.slot])
            answers.append(answer)
        return ListOut(None, answers, dryRun=True)

    def _check(self, principal: Principal, body: bytes) -> tuple[list[_Item], list[_New | None]]:
        """Each message of the request checked on its own: the answer's items, and the
        messages to store (a rejected one's slot None)."""
        raws = decode_list(body)
        rules = Rules(self._clock.now_ms(), self._carries, self._parts)
        salt = os.urandom(8)  # an id-less message is its own: never taken for a repeat
        items: list[_Item] = []
        new: list[_New | None] = []
        seen: dict[str, int] = {}  # customerMessageId -> its slot in `new`
        for index, raw in enumerate(raws):
            try:
                message = _decode_message(raw)
                checked = validate(message, rules)
            except Rejected as err:
                items.append(_Item(None, err.at(f"messages[{index}]")))
                continue
            customer_id = checked.customer_message_id
            digest = hashlib.blake2b(
                b"bat" + (b"" if customer_id is not None else salt + b"%d" % index),
                digest_size=16,
            )
            digest.update(_encode(message))
            fingerprint = digest.digest()
            earlier = seen.get(customer_id) if customer_id is not None else None
            if earlier is not None:
                first = new[earlier]
                if first is not None and first.message.draft.fingerprint == fingerprint:
                    items.append(_Item(checked, slot=earlier))  # a repeat within the list
                else:
                    items.append(_Item(checked, _duplicate(index)))
                continue
            if customer_id is not None:
                seen[customer_id] = len(new)
            items.append(_Item(checked, slot=len(new)))
            draft = _draft(checked, fingerprint, rules.now_ms)
            new.append(_New(NewMessage(new_id(), draft, principal.bots, Surface.BAT), checked))
        return items, new

    def _answer(self, item: _Item, ids: Mapping[int, str]) -> AcceptedOut:
        answer = _answer(item, ids)
        if answer.messageId is None or item.checked is None:
            return answer
        first = item.checked.plan[0]
        shown = self._pattern(first.channel, first.content)
        return answer if shown is None else msgspec.structs.replace(answer, pattern=shown)

    async def _accept(
        self, account_id: str, new: list[_New | None], items: list[_Item]
    ) -> tuple[int | None, dict[int, str]]:
        """Store the new messages as one list; their ids by slot. A customerMessageId stored
        before with other content rejects its messages (1008) and the rest are stored
        without them: another round trip, only then."""
        while True:
            slots = [slot for slot, entry in enumerate(new) if entry is not None]
            if not slots:
                return None, {}
            messages = [entry.message for entry in new if entry is not None]
            try:
                list_id, ids = await self._store.accept_list(account_id, messages)
            except TrackingIdConflict as err:
                _reject_duplicate(items, new, slots[err.index])
                continue
            self._observer.accepted(account_id, fresh_count(messages, ids))
            return list_id, dict(zip(slots, ids, strict=True))


def _reject_duplicate(items: list[_Item], new: list[_New | None], slot: int) -> None:
    """The message in `slot` is not stored: its customerMessageId is stored already with
    other content (1008), for each item it answers."""
    new[slot] = None
    for index, item in enumerate(items):
        if item.slot == slot:
            items[index] = _Item(item.checked, _duplicate(index))


def _first_refusal(items: Sequence[_Item]) -> BatError:
    """What refuses a list none of whose messages could be accepted: its first error."""
    first_rejected = next(item.error for item in items if item.error is not None)
    return first_rejected.refusal()


@dataclass(frozen=True, slots=True)
class _New:
    message: NewMessage
    checked: Checked


@dataclass(frozen=True, slots=True)
class _Item:
    """One message of the request: rejected with `error`, or stored in `new[slot]`."""

    checked: Checked | None
    error: Rejected | None = None
    slot: int | None = None


def _answer(item: _Item, ids: Mapping[int, str]) -> AcceptedOut:
    checked = item.checked
    customer_id = checked.customer_message_id if checked is not None else None
    phone = checked.phone if checked is not None else None
    if item.error is not None or item.slot is None or checked is None:
        err = item.error
        return AcceptedOut(
            messageId=None,
            status=_REJECTED,
            parts=0,
            customerMessageId=customer_id,
            to=phone,
            error=ErrorOut(int(err.code), err.message, err.field) if err is not None else None,
        )
    return AcceptedOut(
        messageId=ids[item.slot],
        status=_ACCEPTED,
        parts=checked.parts,
        customerMessageId=customer_id,
        to=phone,
    )


def decode_list(body: bytes) -> list[msgspec.Raw]:
    """The list's messages, each still raw; the whole request refused (400) when the body
    is no list of 1-5,000 messages."""
    if nested_deeper_than(body, MAX_JSON_DEPTH):
        raise BatError(
            400, f"JSON may nest at most {MAX_JSON_DEPTH} levels deep", Code.INVALID_FORMAT
        )
    try:
        envelope = _list_decoder.decode(body)
    except msgspec.ValidationError as err:
        what, path = _where(str(err))
        if what.startswith("Object missing required field"):
            raise BatError(
                400, "Missing required field: 'messages'", Code.MISSING_FIELD, "messages"
            ) from None
        raise BatError(
            400, 'Body must be an object with a "messages" array', Code.INVALID_FORMAT, path
        ) from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise BatError(400, "Malformed JSON", Code.INVALID_FORMAT) from None
    messages = envelope.messages
    if not messages:
        raise BatError(400, "At least one message is required", Code.MISSING_FIELD, "messages")
    if len(messages) > MAX_BATCH:
        raise BatError(
            400, f"At most {MAX_BATCH} messages per list", Code.TOO_MANY_MESSAGES, "messages"
        )
    return messages


def _decode_message(raw: msgspec.Raw) -> MessageIn:
    try:
        return _message_decoder.decode(raw)
    except msgspec.ValidationError as err:
        what, path = _where(str(err))
        raise Rejected(Code.INVALID_FORMAT, what, path, shape=True) from None


def _where(text: str) -> tuple[str, str | None]:
    """msgspec's "Expected `int`, got `str` - at `$.ttl`" as ("Expected …", "ttl")."""
    match = _AT.match(text)
    what = match.group("what") if match else text
    path = ((match.group("path") if match else None) or "").removeprefix(".")
    return what, path or None


def _draft(checked: Checked, fingerprint: bytes, now_ms: int) -> Draft:
    primary = checked.plan[0].content
    return Draft(
        tracking_id=checked.customer_message_id,
        fingerprint=fingerprint,
        route=Route.STANDARD,
        message_type=MESSAGE_TYPE[checked.type],
        from_name=checked.from_name,
        phone=checked.phone,
        text=primary.text,
        survey_options=primary.survey if checked.type is BatType.VIBER_SURVEY else (),
        fallback=None,
        ttl=checked.ttl,
        created_at_ms=now_ms,
        scheduled_at_ms=checked.scheduled_at_ms,
        due_at_ms=checked.due_at_ms,
        expires_at_ms=checked.expires_at_ms,
        short_links=(),
        plan=checked.plan,
    )


def _duplicate(index: int) -> Rejected:
    return Rejected(
        Code.DUPLICATE_ID,
        "This customerMessageId was already used for a message with different content",
        f"messages[{index}].customerMessageId",
    )
