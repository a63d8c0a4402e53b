"""Incoming messages (SPEC D7): what people write back, stored, then owed to the account's
incoming URLs.

Which account a message belongs to (the provider accounts are the installation's, so the
message itself must say):

1. the account whose default sender name is the address the person wrote to (compared
   without a leading '+' and case), when exactly one account has it;
2. else the account whose message last reached this phone on this channel (an attempt
   the provider took), among those of step 1 when several share the address: a reply
   answers what the person last got;
3. else none: the message is stored unrouted (account NULL) and the caller logs it.

Pieces of a concatenated SMS wait in `incoming_parts` until the last one comes; then the
pieces are taken (an UPDATE naming the message they make, whose RETURNING must name them
all, so two transactions never both join them) and stored as one message.
`flush_incoming_parts` stores the pieces that waited too long as what came, and forgets
joined pieces older than the repeat window.

An SMS the SMSC offers again is stored once (`base.REPEAT_WINDOW_MS`, in the transaction
that would store it): a whole one when a message from the phone to the same address with
the same text, and no provider id, was received within the window; a piece when a joined
piece of the same reference, count and number, with the same text, was. A joined piece
that differs (the reference used again later) is forgotten, and the new piece waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cascade.domain.events import InboundMessage
from cascade.ids import new_id
from cascade.store import schema as t
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
from cascade.store.sql.database import Database


class IncomingMessages(Database):
    async def record_incoming(
        self, messages: Sequence[InboundMessage]
    ) -> list[StoredIncoming | None]:
        """Store each message (a piece of an SMS joins its others first); for each, what
        was stored, or None (a piece still waiting, or a provider's repeat)."""
        if not messages:
            return []
        now = self._clock.now_ms()
        return await self._transact(lambda conn: [self._record(conn, m, now) for m in messages])

    async def flush_incoming_parts(self, older_than_ms: int) -> list[StoredIncoming]:
        """Store the pieces whose first came at or before `older_than_ms` as what came."""
        now = self._clock.now_ms()
        p = t.incoming_parts.c

        def work(conn: Connection) -> list[StoredIncoming]:
            conn.execute(
                t.incoming_parts.delete().where(
                    p.incoming_id.is_not(None), p.received_at < now - REPEAT_WINDOW_MS
                )
            )
            due = conn.execute(
                sa.select(p.channel, p.phone, p.to_address, p.reference, p.total)
                .where(p.incoming_id.is_(None))
                .group_by(p.channel, p.phone, p.to_address, p.reference, p.total)
                .having(sa.func.min(p.received_at) <= older_than_ms)
            ).all()
            stored = []
            for channel, phone, to, reference, total in due:
                message_id = new_id()
                key = (channel, phone, to, reference, total)
                found = self._take_parts(conn, key, 1, message_id)
                if found is not None:
                    text, at_ms, parts = found
                    whole = InboundMessage(channel, phone, to, text, at_ms)
                    stored.append(self._store(conn, whole, (parts, total), now, message_id))
            return stored

        return await self._transact(work)

    # --- one message ----------------------------------------------------------------------

    def _record(self, conn: Connection, m: InboundMessage, now: int) -> StoredIncoming | None:
        i = t.incoming_messages.c
        if m.part is not None and m.part.total > 1:
            return self._record_part(conn, m, now)
        if m.provider_id is not None:
            repeat = conn.execute(
                sa.select(i.id).where(i.channel == m.channel, i.provider_id == m.provider_id)
            ).first()
            if repeat is not None:
                return None
        elif self._offered_again(conn, m):
            return None
        return self._store(conn, m, (1, 1), now)

    def _offered_again(self, conn: Connection, m: InboundMessage) -> bool:
        """Whether a whole SMS without an id was stored already (the module's rule)."""
        i = t.incoming_messages.c
        found = conn.execute(
            sa.select(i.id)
            .where(
                i.channel == m.channel,
                i.phone == m.phone,
                i.received_at.between(m.at_ms - REPEAT_WINDOW_MS, m.at_ms + REPEAT_WINDOW_MS),
                i.to_address == m.to,
                i.provider_id.is_(None),
                i.parts_expected == 1,
                i.text == m.text,
            )
            .limit(1)
        ).first()
        return found is not None

    def _record_part(self, conn: Connection, m: InboundMessage, now: int) -> StoredIncoming | None:
        assert m.part is not None
        p = t.incoming_parts.c
        key = (m.channel, m.phone, m.to, m.part.reference, m.part.total)
        same = _same_message(key)
        held = conn.execute(
            sa.select(p.text, p.received_at, p.incoming_id).where(*same, p.number == m.part.number)
        ).first()
        if held is not None and held.incoming_id is not None:
            if held.text == m.text and is_repeat(held.received_at, m.at_ms):
                return None  # a piece of a message stored already, offered again
            # the reference used again: the message those pieces made is stored
            conn.execute(t.incoming_parts.delete().where(*same, p.incoming_id.is_not(None)))
            held = None
        if held is None:  # else: the SMSC offered a waiting piece again
            conn.execute(t.incoming_parts.insert().values(incoming_part_row(m)))
        waiting = conn.execute(
            sa.select(sa.func.count()).where(*same, p.incoming_id.is_(None))
        ).scalar_one()
        if waiting < m.part.total:
            return None
        message_id = new_id()
        found = self._take_parts(conn, key, m.part.total, message_id)
        if found is None:
            return None
        text, at_ms, parts = found
        whole = replace(m, text=text, at_ms=at_ms, part=None)
        return self._store(conn, whole, (parts, m.part.total), now, message_id)

    def _take_parts(
        self, conn: Connection, key: tuple[str, str, str, int, int], at_least: int, into: str
    ) -> tuple[str, int, int] | None:
        """Join one message's waiting pieces into message `into` (kept, for the repeat
        window); (joined text, first piece's time, pieces) when at least `at_least` were
        waiting (another transaction may have taken them)."""
        p = t.incoming_parts.c
        rows = conn.execute(
            t.incoming_parts.update()
            .where(*_same_message(key), p.incoming_id.is_(None))
            .values(incoming_id=into)
            .returning(p.number, p.text, p.received_at)
        ).all()
        if not rows or len(rows) < at_least:
            return None
        return joined([(r.number, r.text, r.received_at) for r in rows])

    def _store(
        self,
        conn: Connection,
        m: InboundMessage,
        parts: tuple[int, int],
        now: int,
        message_id: str | None = None,
    ) -> StoredIncoming:
        """Store `m` (whole: its pieces joined) with the events it owes."""
        account_id, alpha_name = self._route(conn, m.channel, m.phone, m.to)
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
        conn.execute(
            t.incoming_messages.insert().values(
                incoming_row(stored, m.text, m.provider_id, m.at_ms)
            )
        )
        if account_id is None:
            return stored
        cb = t.callbacks.c
        hooks = conn.execute(
            sa.select(cb.id).where(
                cb.account_id == account_id,
                cb.kind == CallbackKind.INCOMING,
                cb.revoked_at.is_(None),
            )
        ).all()
        if hooks:
            payload = incoming_payload(stored.id, alpha_name, m.phone, m.text, m.at_ms)
            conn.execute(
                t.callback_events.insert(),
                [
                    {
                        "callback_id": h.id,
                        "incoming_id": stored.id,
                        "seq": 1,
                        "payload": payload,
                        "due_at": now,
                    }
                    for h in hooks
                ],
            )
        return stored

    def _route(self, conn: Connection, channel: str, phone: str, to: str) -> tuple[str | None, str]:
        """(account, the sender name replied to) by the rule in the module's docstring."""
        a = t.accounts.c
        named = conn.execute(
            sa.select(a.id, a.default_from_name).where(
                sa.func.lower(sa.func.ltrim(sa.func.trim(a.default_from_name), "+"))
                == address_key(to)
            )
        ).all()
        if len(named) == 1:
            return named[0].id, named[0].default_from_name
        m, at = t.messages.c, t.attempts.c
        last = (
            sa.select(m.account_id, m.from_name)
            .join(t.attempts, at.message_id == m.id)
            .where(m.phone == phone, at.channel == channel, at.provider_message_id.is_not(None))
            .order_by(at.started_at.desc())
            .limit(1)
        )
        if named:
            last = last.where(m.account_id.in_([r.id for r in named]))
        found = conn.execute(last).first()
        if found is None:
            return None, to
        return found.account_id, found.from_name


def _same_message(key: tuple[str, str, str, int, int]) -> tuple[sa.ColumnElement[bool], ...]:
    p = t.incoming_parts.c
    channel, phone, to, reference, total = key
    return (
        p.channel == channel,
        p.phone == phone,
        p.to_address == to,
        p.reference == reference,
        p.total == total,
    )
