"""Senders (bots), contacts (who a phone number is on each channel) and survey answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from cascade.domain.message import MessageType
from cascade.domain.records import Contact, SenderRow
from cascade.store import schema as t
from cascade.store.sql.database import Database


class Contacts(Database):
    async def senders(self, account_ids: Iterable[str]) -> list[SenderRow]:
        b = t.bots.c
        async with self._read() as conn:
            rows = await conn.execute(
                sa.select(b.id, b.account_id, b.channel, b.token, b.webhook_secret)
                .where(b.account_id.in_(list(account_ids)), b.revoked_at.is_(None))
                .order_by(b.created_at)
            )
            return [
                SenderRow(r.id, r.account_id, r.channel, r.token, r.webhook_secret) for r in rows
            ]

    async def sender(self, sender_id: str) -> SenderRow | None:
        b = t.bots.c
        async with self._read() as conn:
            r = (
                await conn.execute(
                    sa.select(b.id, b.account_id, b.channel, b.token, b.webhook_secret).where(
                        b.id == sender_id, b.revoked_at.is_(None)
                    )
                )
            ).first()
        if r is None:
            return None
        return SenderRow(r.id, r.account_id, r.channel, r.token, r.webhook_secret)

    async def contacts(self, phones: Iterable[str]) -> dict[tuple[str, str, str], Contact]:
        c = t.contacts.c
        phones = list(set(phones))
        found: dict[tuple[str, str, str], Contact] = {}
        async with self._read() as conn:
            for start in range(0, len(phones), 500):
                rows = await conn.execute(
                    sa.select(c.channel, c.sender_id, c.phone, c.address, c.reachable).where(
                        c.phone.in_(phones[start : start + 500])
                    )
                )
                for r in rows:
                    found[(r.channel, r.sender_id, r.phone)] = Contact(r.address, bool(r.reachable))
        return found

    async def link_contact(self, channel: str, sender_id: str, phone: str, address: str) -> None:
        await self.upsert_contacts([(channel, sender_id, phone, address, True)])

    async def upsert_contacts(self, rows: Sequence[tuple[str, str, str, str, bool]]) -> int:
        """Insert or replace contacts (channel, sender_id, phone, address, reachable)."""
        if not rows:
            return 0
        from sqlalchemy.dialects import postgresql, sqlite

        insert = (sqlite if self.dialect == "sqlite" else postgresql).insert(t.contacts)
        statement = insert.on_conflict_do_update(
            index_elements=["channel", "sender_id", "phone"],
            set_={
                "address": insert.excluded.address,
                "reachable": insert.excluded.reachable,
                "updated_at": insert.excluded.updated_at,
            },
        )
        now = self._clock.now_ms()
        values = [
            {
                "channel": ch,
                "sender_id": s,
                "phone": p,
                "address": a,
                "reachable": r,
                "updated_at": now,
            }
            for ch, s, p, a, r in rows
        ]
        async with self._write() as conn:
            await conn.execute(statement, values)
        return len(values)

    async def set_contact_reachable(
        self, channel: str, sender_id: str, address: str, reachable: bool
    ) -> int:
        c = t.contacts.c
        async with self._write() as conn:
            result = await conn.execute(
                t.contacts.update()
                .where(c.channel == channel, c.sender_id == sender_id, c.address == address)
                .values(reachable=reachable, updated_at=self._clock.now_ms())
            )
        return int(result.rowcount)

    async def record_survey_answer(
        self, channel: str, sender_id: str, address: str, answer: str, message_id: str | None
    ) -> bool:
        m = t.messages.c
        async with self._write() as conn:
            if message_id is None:
                # the newest survey sent to this user through this sender
                a = t.attempts.c
                message_id = (
                    await conn.execute(
                        sa.select(a.message_id)
                        .join(t.messages, t.messages.c.id == a.message_id)
                        .where(
                            a.channel == channel,
                            a.sender_id == sender_id,
                            a.address == address,
                            m.message_type == MessageType.VIBER_SURVEY,
                        )
                        .order_by(a.started_at.desc())
                        .limit(1)
                    )
                ).scalar()
                if message_id is None:
                    return False
            result = await conn.execute(
                t.messages.update()
                .where(m.id == message_id, m.message_type == MessageType.VIBER_SURVEY)
                .values(survey_answer=answer, updated_at=self._clock.now_ms())
            )
        return bool(result.rowcount)
