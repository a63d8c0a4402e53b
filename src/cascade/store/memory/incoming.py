"""The in-memory store's incoming messages: as `cascade.store.sql.incoming` does, by the
same routing rule (see there), over the tables' dicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cascade.domain.events import InboundMessage
from cascade.ids import new_id
from cascade.store.base import (
    CallbackKind,
    StoredIncoming,
    address_key,
    incoming_part_row,
    incoming_payload,
    incoming_row,
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
        first: dict[_Key, int] = {}
        for part in self._t.incoming_parts.values():
            group = _key_of(part)
            first[group] = min(first.get(group, part.received_at), part.received_at)
        stored = []
        for group, at in first.items():
            if at > older_than_ms:
                continue
            text, at_ms, parts = self._take_parts(group)
            channel, phone, to, _, total = group
            whole = InboundMessage(channel, phone, to, text, at_ms)
            stored.append(self._store(whole, (parts, total), now))
        return stored

    def _record(self, m: InboundMessage, now: int) -> StoredIncoming | None:
        if m.part is not None and m.part.total > 1:
            key: _Key = (m.channel, m.phone, m.to, m.part.reference, m.part.total)
            parts = self._t.incoming_parts
            if (*key, m.part.number) not in parts:  # else: the SMSC offered it again
                parts[(*key, m.part.number)] = IncomingPartRow(
                    id=next(self._t.serial), **incoming_part_row(m)
                )
            if sum(1 for found in parts.values() if _key_of(found) == key) < m.part.total:
                return None
            text, at_ms, count = self._take_parts(key)
            whole = replace(m, text=text, at_ms=at_ms, part=None)
            return self._store(whole, (count, key[4]), now)
        if m.provider_id is not None and any(
            row.channel == m.channel and row.provider_id == m.provider_id
            for row in self._t.incoming_messages.values()
        ):
            return None
        return self._store(m, (1, 1), now)

    def _take_parts(self, key: _Key) -> tuple[str, int, int]:
        parts = self._t.incoming_parts
        taken = [parts.pop(k) for k, found in list(parts.items()) if _key_of(found) == key]
        return joined([(p.number, p.text, p.received_at) for p in taken])

    def _store(self, m: InboundMessage, parts: tuple[int, int], now: int) -> StoredIncoming:
        t = self._t
        account_id, alpha_name = self._route(m.channel, m.phone, m.to)
        stored = StoredIncoming(
            new_id(), account_id, m.channel, m.phone, m.to, alpha_name, parts[0], parts[1]
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
