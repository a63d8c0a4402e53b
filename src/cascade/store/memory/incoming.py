"""The in-memory store's incoming messages: as `cascade.store.sql.incoming` does, by the
same routing rule (see there), over the tables' dicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cascade.domain.events import InboundMessage
from cascade.ids import new_id
from cascade.store.base import (
    REPEAT_WINDOW_MS,
    CallbackKind,
    StoredIncoming,
    address_key,
    incoming_part_row,
    incoming_payload,
    incoming_row,
    is_repeat,
    joined,
)
from cascade.store.memory.tables import (
    CallbackEventRow,
    IncomingMessageRow,
    IncomingPartRow,
    MemoryBase,
)

_Key = tuple[str, str, str, int, int]  # channel, phone, to, reference, total


class Incoming(MemoryBase):
    async def record_incoming(
        self, messages: Sequence[InboundMessage]
    ) -> list[StoredIncoming | None]:
        now = self._clock.now_ms()
        return [self._record(m, now) for m in messages]

    async def flush_incoming_parts(self, older_than_ms: int) -> list[StoredIncoming]:
        now = self._clock.now_ms()
        parts = self._t.incoming_parts
        for k, part in list(parts.items()):
            if part.incoming_id is not None and part.received_at < now - REPEAT_WINDOW_MS:
                del parts[k]
        first: dict[_Key, int] = {}
        for part in parts.values():
            if part.incoming_id is None:
                group = _key_of(part)
                first[group] = min(first.get(group, part.received_at), part.received_at)
        stored = []
        for group, at in first.items():
            if at > older_than_ms:
                continue
            message_id = new_id()
            text, at_ms, count = self._take_parts(group, message_id)
            channel, phone, to, _, total = group
            whole = InboundMessage(channel, phone, to, text, at_ms)
            stored.append(self._store(whole, (count, total), now, message_id))
        return stored

    def _record(self, m: InboundMessage, now: int) -> StoredIncoming | None:
        if m.part is not None and m.part.total > 1:
            return self._record_part(m, now)
        if m.provider_id is not None:
            if any(
                row.channel == m.channel and row.provider_id == m.provider_id
                for row in self._t.incoming_messages.values()
            ):
                return None
        elif any(
            row.channel == m.channel
            and row.phone == m.phone
            and row.to_address == m.to
            and row.provider_id is None
            and row.parts_expected == 1
            and row.text == m.text
            and is_repeat(row.received_at, m.at_ms)
            for row in self._t.incoming_messages.values()
        ):
            return None  # an SMS the SMSC offered again (sql.incoming's rule)
        return self._store(m, (1, 1), now)

    def _record_part(self, m: InboundMessage, now: int) -> StoredIncoming | None:
        assert m.part is not None
        key: _Key = (m.channel, m.phone, m.to, m.part.reference, m.part.total)
        parts = self._t.incoming_parts
        held = parts.get((*key, m.part.number))
        if held is not None and held.incoming_id is not None:
            if held.text == m.text and is_repeat(held.received_at, m.at_ms):
                return None  # a piece of a message stored already, offered again
            for k, found in list(parts.items()):  # the reference used again
                if _key_of(found) == key and found.incoming_id is not None:
                    del parts[k]
            held = None
        if held is None:  # else: the SMSC offered a waiting piece again
            parts[(*key, m.part.number)] = IncomingPartRow(
                id=next(self._t.serial), **incoming_part_row(m)
            )
        waiting = sum(1 for p in parts.values() if _key_of(p) == key and p.incoming_id is None)
        if waiting < m.part.total:
            return None
        message_id = new_id()
        text, at_ms, count = self._take_parts(key, message_id)
        whole = replace(m, text=text, at_ms=at_ms, part=None)
        return self._store(whole, (count, key[4]), now, message_id)

    def _take_parts(self, key: _Key, into: str) -> tuple[str, int, int]:
        taken = [
            p
            for p in self._t.incoming_parts.values()
            if _key_of(p) == key and p.incoming_id is None
        ]
        for p in taken:
            p.incoming_id = into  # kept for the repeat window
        return joined([(p.number, p.text, p.received_at) for p in taken])

    def _store(
        self, m: InboundMessage, parts: tuple[int, int], now: int, message_id: str | None = None
    ) -> StoredIncoming:
        t = self._t
        account_id, alpha_name = self._route(m.channel, m.phone, m.to)
        stored = StoredIncoming(
            message_id or new_id(),
            account_id,
            m.channel,
            m.phone,
            m.to,
            alpha_name,
            parts[0],
            parts[1],
        )
        t.incoming_messages[stored.id] = IncomingMessageRow(
            **incoming_row(stored, m.text, m.provider_id, m.at_ms)
        )
        if account_id is None:
            return stored
        payload = incoming_payload(stored.id, alpha_name, m.phone, m.text, m.at_ms)
        for cb in t.callbacks.values():
            if (
                cb.account_id == account_id
                and cb.kind == CallbackKind.INCOMING
                and cb.revoked_at is None
            ):
                event_id = next(t.serial)
                t.callback_events[event_id] = CallbackEventRow(
                    id=event_id,
                    callback_id=cb.id,
                    incoming_id=stored.id,
                    seq=1,
                    payload=payload,
                    due_at=now,
                )
        return stored

    def _route(self, channel: str, phone: str, to: str) -> tuple[str | None, str]:
        wanted = address_key(to)
        named = [a for a in self._t.accounts.values() if address_key(a.default_from_name) == wanted]
        if len(named) == 1:
            return named[0].id, named[0].default_from_name
        among = {a.id for a in named}
        sent = [
            (a.started_at, self._t.messages[a.message_id])
            for a in self._t.attempts.values()
            if a.channel == channel
            and a.provider_message_id is not None
            and a.message_id in self._t.messages
            and self._t.messages[a.message_id].phone == phone
            and (not among or self._t.messages[a.message_id].account_id in among)
        ]
        if not sent:
            return None, to
        last = max(sent, key=lambda s: s[0])[1]
        return last.account_id, last.from_name


def _key_of(part: IncomingPartRow) -> _Key:
    return (part.channel, part.phone, part.to_address, part.reference, part.total)
