"""ChatHub's chats, their messages and media (SPEC E3), over SQLAlchemy Core.

A person's message finds its chat by (bot, address) or begins one, joined to the bot's
organization and given an operator by `choose_operator`, all in the transaction that
stores the message: what a webhook brings is stored before the platform is answered.
Operators' messages are stored first (New), then settled with what the platform said;
receipts (Viber's) find them by the id the platform gave the send. A receipt that comes
before its send is settled waits in `orphan_reports` (the engine's table for the same
race) and is applied when the send is settled.

Media bytes live in `chat_media`; each row has a random token, the secret part of its
public URL (Viber fetches an operator's upload from there).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from cascade.domain.chats import (
    MAX_MEDIA_BYTES,
    Author,
    Chat,
    ChatArrival,
    ChatEntry,
    ChatMessage,
    ChatPage,
    ChatQuery,
    ChatReceipts,
    ChatStats,
    ChatStatus,
    NewMedia,
    Operator,
    OperatorChange,
    OperatorLoad,
    OperatorStatus,
    PendingMedia,
    StoredMedia,
    StoredMediaInfo,
    after_receipt,
    choose_operator,
    client_text,
    first_response_ms,
    placements_after,
)
from cascade.domain.events import (
    MEDIA_CONTENT,
    BotChatMessage,
    ChatMessageStatus,
    DeliveryReport,
    MediaRef,
)
from cascade.store import schema as t
from cascade.store.sql.database import Database

_c = t.chats.c
_m = t.chat_messages.c
_md = t.chat_media.c
_op = t.operators.c

_ref_codec = msgspec.json.Decoder(MediaRef)


def media_token() -> str:
    return secrets.token_urlsafe(24)


def row_chat(row: Any) -> Chat:
    return Chat(
        id=int(row.id),
        account_id=str(row.account_id),
        organization_id=None if row.organization_id is None else int(row.organization_id),
        bot_id=str(row.bot_id),
        channel=str(row.channel),
        address=str(row.address),
        client_name=row.client_name,
        client_phone=row.client_phone,
        status=ChatStatus(row.status),
        operator_id=None if row.operator_id is None else int(row.operator_id),
        theme=row.theme,
        created_at_ms=int(row.created_at),
        last_message_at_ms=int(row.last_message_at),
        unread=int(row.unread),
        first_client_at_ms=row.first_client_at,
        first_response_at_ms=row.first_response_at,
    )


_MESSAGE_COLUMNS = (
    _m.id,
    _m.chat_id,
    _m.author,
    _m.text,
    _m.content,
    _m.status,
    _m.created_at,
    _m.provider_id,
    _m.media_id,
    _m.media_ref,
    _m.media_error,
    _md.name.label("media_name"),
    _md.mime.label("media_mime"),
    _md.size.label("media_size"),
    _md.token.label("media_token"),
)
_MESSAGES = t.chat_messages.outerjoin(t.chat_media, _md.id == _m.media_id)


def row_message(row: Any) -> ChatMessage:
    media = None
    if row.media_id is not None:
        media = StoredMediaInfo(
            int(row.media_id),
            str(row.media_name),
            str(row.media_mime),
            int(row.media_size),
            str(row.media_token),
        )
    return ChatMessage(
        id=int(row.id),
        chat_id=int(row.chat_id),
        author=Author(row.author),
        text=str(row.text),
        content=str(row.content),
        status=ChatMessageStatus(row.status),
        created_at_ms=int(row.created_at),
        provider_id=row.provider_id,
        media=media,
        media_pending=row.media_id is None and row.media_ref is not None,
        media_error=row.media_error,
    )


def _visible(query: ChatQuery) -> sa.ColumnElement[bool]:
    owned = _c.organization_id.in_(sorted(query.organization_ids))
    return sa.or_(owned, _c.organization_id.is_(None)) if query.include_unowned else owned


class Conversations(Database):
    # --- a person's messages ------------------------------------------------------------

    async def record_chat_messages(
        self, messages: Sequence[BotChatMessage]
    ) -> list[ChatArrival | None]:
        now = self._clock.now_ms()
        found: list[ChatArrival | None] = []
        async with self._write() as conn:
            for message in messages:
                found.append(await self._record_one(conn, message, now))
        return found

    async def _record_one(
        self, conn: AsyncConnection, message: BotChatMessage, now: int
    ) -> ChatArrival | None:
        b = t.bots.c
        bot = (
            await conn.execute(
                sa.select(b.id, b.account_id).where(
                    b.id == message.sender_id, b.channel == message.channel
                )
            )
        ).first()
        if bot is None:
            return None
        phone = await self._phone(conn, message)
        chat = (
            await conn.execute(
                sa.select(t.chats)
                .where(_c.bot_id == message.sender_id, _c.address == message.address)
                .with_for_update()
            )
        ).first()
        created = chat is None
        reopened = False
        if chat is None:
            ob = t.organization_bots.c
            organization_id = (
                await conn.execute(
                    sa.select(ob.organization_id).where(ob.bot_id == message.sender_id)
                )
            ).scalar()
            operator_id = None
            if organization_id is not None:
                operator_id = await self._choose(conn, str(bot.account_id), organization_id)
            chat_id = (
                await conn.execute(
                    t.chats.insert()
                    .values(
                        account_id=bot.account_id,
                        organization_id=organization_id,
                        bot_id=message.sender_id,
                        channel=message.channel,
                        address=message.address,
                        client_name=message.name,
                        client_phone=phone,
                        status=int(ChatStatus.NEW),
                        operator_id=operator_id,
                        created_at=now,
                        last_message_at=now,
                        unread=0,
                        first_client_at=now,
                    )
                    .returning(_c.id)
                )
            ).scalar_one()
        else:
            chat_id = chat.id
            repeated = (
                await conn.execute(
                    sa.select(_m.id).where(
                        _m.chat_id == chat_id,
                        _m.author == int(Author.CLIENT),
                        _m.provider_id == message.provider_id,
                    )
                )
            ).first()
            if repeated is not None:
                return None
            changes: dict[str, Any] = {}
            if ChatStatus(chat.status) is ChatStatus.CLOSED:  # the person writes again
                reopened = True
                changes["status"] = int(ChatStatus.NEW)
                if chat.organization_id is not None:
                    changes["operator_id"] = await self._choose(
                        conn, str(bot.account_id), int(chat.organization_id)
                    )
            if message.name:
                changes["client_name"] = message.name
            if phone:
                changes["client_phone"] = phone
            if chat.first_client_at is None:
                changes["first_client_at"] = now
            if changes:
                await conn.execute(t.chats.update().where(_c.id == chat_id).values(**changes))
        media = message.media if message.content in MEDIA_CONTENT else None
        message_id = (
            await conn.execute(
                t.chat_messages.insert()
                .values(
                    chat_id=chat_id,
                    author=int(Author.CLIENT),
                    content=message.content.value,
                    text=client_text(message),
                    status=int(ChatMessageStatus.SUCCESS),
                    provider_id=message.provider_id,
                    media_ref=msgspec.json.encode(media).decode() if media else None,
                    media_due_at=now if media else None,
                    media_tries=0,
                    created_at=now,
                )
                .returning(_m.id)
            )
        ).scalar_one()
        await conn.execute(
            t.chats.update()
            .where(_c.id == chat_id)
            .values(last_message_at=now, unread=_c.unread + 1)
        )
        return ChatArrival(
            await self._chat_in(conn, chat_id),
            await self._message_in(conn, message_id),
            created,
            reopened,
        )

    async def _phone(self, conn: AsyncConnection, message: BotChatMessage) -> str | None:
        k = t.contacts.c
        return (
            await conn.execute(
                sa.select(k.phone)
                .where(
                    k.channel == message.channel,
                    k.sender_id == message.sender_id,
                    k.address == message.address,
                )
                .order_by(k.updated_at.desc())
                .limit(1)
            )
        ).scalar()

    async def _loads(
        self, conn: AsyncConnection, account_id: str, organization_id: int
    ) -> list[OperatorLoad]:
        counts: dict[int, int] = dict(
            (
                await conn.execute(
                    sa.select(_c.operator_id, sa.func.count())
                    .where(
                        _c.account_id == account_id,
                        _c.operator_id.is_not(None),
                        _c.status != int(ChatStatus.CLOSED),
                    )
                    .group_by(_c.operator_id)
                )
            ).all()
        )
        rows = await conn.execute(
            sa.select(_op.id, _op.status).where(
                _op.account_id == account_id, _op.organization_id == organization_id
            )
        )
        return [OperatorLoad(int(i), OperatorStatus(s), int(counts.get(i, 0))) for i, s in rows]

    async def _choose(
        self, conn: AsyncConnection, account_id: str, organization_id: int
    ) -> int | None:
        return choose_operator(await self._loads(conn, account_id, organization_id))

    async def _chat_in(self, conn: AsyncConnection, chat_id: int) -> Chat:
        return row_chat((await conn.execute(sa.select(t.chats).where(_c.id == chat_id))).one())

    async def _message_in(self, conn: AsyncConnection, message_id: int) -> ChatMessage:
        row = (
            await conn.execute(
                sa.select(*_MESSAGE_COLUMNS).select_from(_MESSAGES).where(_m.id == message_id)
            )
        ).one()
        return row_message(row)

    # --- operators' status and their chats ------------------------------------------------

    async def set_operator_status(
        self, account_id: str, operator_id: int, status: OperatorStatus
    ) -> OperatorChange | None:
        """Set an operator's status and, in the same transaction, hand its open chats on
        or give it the organization's unassigned ones (`placements_after`)."""
        async with self._write() as conn:
            before = (
                await conn.execute(
                    sa.select(_op.status).where(_op.account_id == account_id, _op.id == operator_id)
                )
            ).first()
            if before is None:
                return None
            placed: list[Chat] = []
            if OperatorStatus(before.status) is not status:
                moved = await self._place_operator_chats(conn, account_id, operator_id, status)
                if moved:
                    rows = await conn.execute(
                        sa.select(t.chats).where(_c.id.in_(moved)).order_by(_c.created_at, _c.id)
                    )
                    placed = [row_chat(r) for r in rows]
            await conn.execute(
                t.operators.update()
                .where(_op.account_id == account_id, _op.id == operator_id)
                .values(status=int(status), updated_at=self._clock.now_ms())
            )
            row = (
                await conn.execute(
                    sa.select(_op.id, _op.organization_id, _op.name, _op.status).where(
                        _op.account_id == account_id, _op.id == operator_id
                    )
                )
            ).one()
        changed = Operator(int(row.id), account_id, int(row.organization_id), str(row.name), status)
        return OperatorChange(changed, placed)

    async def _place_operator_chats(
        self, conn: AsyncConnection, account_id: str, operator_id: int, status: OperatorStatus
    ) -> dict[int, int | None]:
        """Apply `placements_after` for an operator about to take `status` (before its
        row changes)."""
        organization_id = (
            await conn.execute(
                sa.select(_op.organization_id).where(
                    _op.account_id == account_id, _op.id == operator_id
                )
            )
        ).scalar()
        if organization_id is None:
            return {}
        is_open = _c.status != int(ChatStatus.CLOSED)
        own = list(
            (
                await conn.execute(
                    sa.select(_c.id)
                    .where(_c.account_id == account_id, _c.operator_id == operator_id, is_open)
                    .order_by(_c.created_at, _c.id)
                )
            ).scalars()
        )
        unassigned = list(
            (
                await conn.execute(
                    sa.select(_c.id)
                    .where(_c.organization_id == organization_id, _c.operator_id.is_(None), is_open)
                    .order_by(_c.created_at, _c.id)
                )
            ).scalars()
        )
        placed = placements_after(
            operator_id,
            status,
            await self._loads(conn, account_id, int(organization_id)),
            own,
            unassigned,
        )
        for chat_id, new_operator in placed.items():
            await conn.execute(
                t.chats.update().where(_c.id == chat_id).values(operator_id=new_operator)
            )
        return placed

    # --- reading --------------------------------------------------------------------------

    async def chat(self, account_id: str, chat_id: int) -> Chat | None:
        async with self._read() as conn:
            row = (
                await conn.execute(
                    sa.select(t.chats).where(_c.id == chat_id, _c.account_id == account_id)
                )
            ).first()
        return row_chat(row) if row is not None else None

    async def list_chats(self, account_id: str, query: ChatQuery) -> ChatPage:
        where: list[sa.ColumnElement[bool]] = [_c.account_id == account_id, _visible(query)]
        if query.search:
            needle = query.search.lower()
            in_text = (
                sa.select(_m.id)
                .where(
                    _m.chat_id == _c.id, sa.func.lower(_m.text).contains(needle, autoescape=True)
                )
                .exists()
            )
            where.append(
                sa.or_(
                    sa.func.lower(_c.client_name).contains(needle, autoescape=True),
                    _c.client_phone.contains(query.search, autoescape=True),
                    _c.address.contains(query.search, autoescape=True),
                    sa.func.lower(_c.theme).contains(needle, autoescape=True),
                    in_text,
                )
            )
        if query.channel is not None:
            where.append(_c.channel == query.channel)
        if query.date_from_ms is not None:
            where.append(_c.last_message_at >= query.date_from_ms)
        if query.date_to_ms is not None:
            where.append(_c.last_message_at <= query.date_to_ms)
        if query.address is not None:
            where.append(_c.address == query.address)
        if query.phone is not None:
            where.append(_c.client_phone == query.phone)
        if query.status is not None:
            where.append(_c.status == int(query.status))
        if query.organization_id is not None:
            where.append(_c.organization_id == query.organization_id)
        if query.operator_id is not None:
            where.append(_c.operator_id == query.operator_id)
        async with self._read() as conn:
            total = (
                await conn.execute(sa.select(sa.func.count()).select_from(t.chats).where(*where))
            ).scalar_one()
            rows = await conn.execute(
                sa.select(t.chats)
                .where(*where)
                .order_by(_c.last_message_at.desc(), _c.id.desc())
                .limit(query.per_page)
                .offset((query.page - 1) * query.per_page)
            )
            return ChatPage(int(total), [row_chat(row) for row in rows])

    async def chat_messages(
        self, account_id: str, chat_id: int, page: int, per_page: int
    ) -> list[ChatMessage] | None:
        async with self._read() as conn:
            owned = (
                await conn.execute(
                    sa.select(_c.id).where(_c.id == chat_id, _c.account_id == account_id)
                )
            ).first()
            if owned is None:
                return None
            rows = await conn.execute(
                sa.select(*_MESSAGE_COLUMNS)
                .select_from(_MESSAGES)
                .where(_m.chat_id == chat_id)
                .order_by(_m.id)
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
            return [row_message(row) for row in rows]

    async def chat_stats(self, account_id: str) -> ChatStats:
        async with self._read() as conn:
            by_status = {
                ChatStatus(s): int(n)
                for s, n in await conn.execute(
                    sa.select(_c.status, sa.func.count())
                    .where(_c.account_id == account_id)
                    .group_by(_c.status)
                )
            }
            answered = await conn.execute(
                sa.select(t.chats).where(
                    _c.account_id == account_id,
                    _c.first_client_at.is_not(None),
                    _c.first_response_at.is_not(None),
                )
            )
            times = [first_response_ms(row_chat(row)) for row in answered]
        return ChatStats(
            {s: by_status.get(s, 0) for s in ChatStatus}, [x for x in times if x is not None]
        )

    # --- changing chats ---------------------------------------------------------------------

    async def mark_chat_read(self, account_id: str, chat_id: int) -> None:
        async with self._write() as conn:
            await conn.execute(
                t.chats.update()
                .where(_c.id == chat_id, _c.account_id == account_id, _c.unread != 0)
                .values(unread=0)
            )

    async def set_chat_status(
        self, account_id: str, chat_id: int, status: ChatStatus
    ) -> Chat | None:
        async with self._write() as conn:
            changed = await conn.execute(
                t.chats.update()
                .where(_c.id == chat_id, _c.account_id == account_id)
                .values(status=int(status))
            )
            if not changed.rowcount:
                return None
            return await self._chat_in(conn, chat_id)

    async def delete_chat(self, account_id: str, chat_id: int) -> bool:
        async with self._write() as conn:
            owned = (
                await conn.execute(
                    sa.select(_c.id).where(_c.id == chat_id, _c.account_id == account_id)
                )
            ).first()
            if owned is None:
                return False
            media = list(
                (
                    await conn.execute(
                        sa.select(_m.media_id).where(
                            _m.chat_id == chat_id, _m.media_id.is_not(None)
                        )
                    )
                ).scalars()
            )
            await conn.execute(t.chat_messages.delete().where(_m.chat_id == chat_id))
            if media:
                await conn.execute(t.chat_media.delete().where(_md.id.in_(media)))
            await conn.execute(t.chats.delete().where(_c.id == chat_id))
        return True

    # --- operators' messages -----------------------------------------------------------------

    async def add_operator_message(
        self, account_id: str, chat_id: int, text: str, media: NewMedia | None = None
    ) -> ChatEntry | None:
        if media is not None and len(media.data) > MAX_MEDIA_BYTES:
            raise ValueError("media larger than MAX_MEDIA_BYTES")
        now = self._clock.now_ms()
        async with self._write() as conn:
            chat = (
                await conn.execute(
                    sa.select(t.chats)
                    .where(_c.id == chat_id, _c.account_id == account_id)
                    .with_for_update()
                )
            ).first()
            if chat is None:
                return None
            media_id = None
            if media is not None:
                media_id = await self._insert_media(conn, account_id, media, now)
            message_id = (
                await conn.execute(
                    t.chat_messages.insert()
                    .values(
                        chat_id=chat_id,
                        author=int(Author.OPERATOR),
                        content="photo"
                        if media and media.mime.startswith("image/")
                        else ("document" if media else "text"),
                        text=text,
                        status=int(ChatMessageStatus.NEW),
                        media_id=media_id,
                        media_tries=0,
                        created_at=now,
                    )
                    .returning(_m.id)
                )
            ).scalar_one()
            changes: dict[str, Any] = {"last_message_at": max(int(chat.last_message_at), now)}
            if chat.first_response_at is None and chat.first_client_at is not None:
                changes["first_response_at"] = now
            if ChatStatus(chat.status) is ChatStatus.NEW:
                changes["status"] = int(ChatStatus.OPEN)  # an operator took it up
            await conn.execute(t.chats.update().where(_c.id == chat_id).values(**changes))
            return ChatEntry(
                await self._chat_in(conn, chat_id), await self._message_in(conn, message_id)
            )

    async def _insert_media(
        self, conn: AsyncConnection, account_id: str, media: NewMedia, now: int
    ) -> int:
        return int(
            (
                await conn.execute(
                    t.chat_media.insert()
                    .values(
                        account_id=account_id,
                        token=media_token(),
                        name=media.name,
                        mime=media.mime[:100],
                        size=len(media.data),
                        data=media.data,
                        created_at=now,
                    )
                    .returning(_md.id)
                )
            ).scalar_one()
        )

    async def settle_operator_message(
        self,
        message_id: int,
        status: ChatMessageStatus,
        provider_id: str | None,
        reason: str | None = None,
    ) -> ChatEntry | None:
        """What the platform said of an operator's send; receipts that came before it
        (kept in `orphan_reports`) are applied now."""
        o = t.orphan_reports.c
        async with self._write() as conn:
            row = (
                await conn.execute(
                    sa.select(_m.chat_id, _c.channel)
                    .join(t.chats, _c.id == _m.chat_id)
                    .where(_m.id == message_id)
                )
            ).first()
            if row is None:
                return None
            if provider_id:
                early = (
                    await conn.execute(
                        sa.select(o.id, o.state)
                        .where(o.channel == row.channel, o.provider_message_id == provider_id)
                        .order_by(o.at, o.id)
                    )
                ).all()
                for _, state in early:
                    status = after_receipt(status, ChatMessageStatus.of_report(state)) or status
                if early:
                    await conn.execute(
                        t.orphan_reports.delete().where(o.id.in_([i for i, _ in early]))
                    )
            await conn.execute(
                t.chat_messages.update()
                .where(_m.id == message_id)
                .values(
                    status=int(status),
                    provider_id=provider_id or None,
                    reason=reason[:200] if reason else None,
                )
            )
            return ChatEntry(
                await self._chat_in(conn, int(row.chat_id)),
                await self._message_in(conn, message_id),
            )

    async def record_chat_receipts(self, reports: Sequence[DeliveryReport]) -> ChatReceipts:
        matched: list[bool] = []
        changed: list[ChatEntry] = []
        if not reports:
            return ChatReceipts(matched, changed)
        async with self._write() as conn:
            for report in reports:
                row = (
                    await conn.execute(
                        sa.select(_m.id, _m.status, _m.chat_id)
                        .join(t.chats, _c.id == _m.chat_id)
                        .where(
                            _m.provider_id == report.provider_id,
                            _m.author == int(Author.OPERATOR),
                            _c.channel == report.channel,
                        )
                    )
                ).first()
                matched.append(row is not None)
                if row is None:
                    continue
                new = after_receipt(
                    ChatMessageStatus(row.status), ChatMessageStatus.of_report(report.state)
                )
                if new is None:
                    continue
                await conn.execute(
                    t.chat_messages.update().where(_m.id == row.id).values(status=int(new))
                )
                changed.append(
                    ChatEntry(
                        await self._chat_in(conn, int(row.chat_id)),
                        await self._message_in(conn, int(row.id)),
                    )
                )
        return ChatReceipts(matched, changed)

    # --- media ----------------------------------------------------------------------------

    async def chat_media(self, account_id: str, chat_id: int, media_id: int) -> StoredMedia | None:
        in_chat = (
            sa.select(_m.id)
            .join(t.chats, _c.id == _m.chat_id)
            .where(_m.media_id == media_id, _m.chat_id == chat_id, _c.account_id == account_id)
            .exists()
        )
        return await self._media(sa.and_(_md.id == media_id, in_chat))

    async def public_chat_media(self, token: str) -> StoredMedia | None:
        return await self._media(_md.token == token)

    async def _media(self, where: sa.ColumnElement[bool]) -> StoredMedia | None:
        async with self._read() as conn:
            row = (await conn.execute(sa.select(t.chat_media).where(where))).first()
        if row is None:
            return None
        info = StoredMediaInfo(int(row.id), row.name, row.mime, int(row.size), row.token)
        return StoredMedia(info, str(row.account_id), bytes(row.data))

    async def claim_due_media(self, limit: int = 20, lease_ms: int = 60_000) -> list[PendingMedia]:
        """People's media whose fetch is due now, the longest waiting first, each leased
        for `lease_ms` (no other process takes it meanwhile; due again if this one dies)."""
        now = self._clock.now_ms()
        async with self._write() as conn:
            due = (
                sa.select(_m.id, _m.chat_id, _m.media_ref, _m.media_tries, _c.bot_id, _c.channel)
                .join(t.chats, _c.id == _m.chat_id)
                .where(_m.media_due_at.is_not(None), _m.media_due_at <= now)
                .order_by(_m.media_due_at, _m.id)
                .limit(limit)
            )
            if self.dialect == "postgresql":
                due = due.with_for_update(of=t.chat_messages, skip_locked=True)
            rows = (await conn.execute(due)).all()
            if rows:
                await conn.execute(
                    t.chat_messages.update()
                    .where(_m.id.in_([row.id for row in rows]))
                    .values(media_due_at=now + lease_ms)
                )
        found = []
        for row in rows:
            ref = _ref_codec.decode(row.media_ref)
            found.append(
                PendingMedia(
                    int(row.id),
                    int(row.chat_id),
                    str(row.bot_id),
                    str(row.channel),
                    ref.ref,
                    ref.name,
                    ref.mime,
                    ref.size,
                    int(row.media_tries),
                )
            )
        return found

    async def attach_chat_media(self, message_id: int, media: NewMedia) -> ChatEntry | None:
        """A person's media, fetched: stored and named by its message (None: the message
        is gone, its chat deleted, or it has its media already)."""
        now = self._clock.now_ms()
        async with self._write() as conn:
            row = (
                await conn.execute(
                    sa.select(_m.chat_id, _c.account_id)
                    .join(t.chats, _c.id == _m.chat_id)
                    .where(_m.id == message_id, _m.media_id.is_(None))
                    .with_for_update()
                )
            ).first()
            if row is None:
                return None
            media_id = await self._insert_media(conn, str(row.account_id), media, now)
            await conn.execute(
                t.chat_messages.update()
                .where(_m.id == message_id)
                .values(media_id=media_id, media_due_at=None, media_error=None)
            )
            return ChatEntry(
                await self._chat_in(conn, int(row.chat_id)),
                await self._message_in(conn, message_id),
            )

    async def chat_media_failed(
        self, message_id: int, reason: str, retry_at_ms: int | None
    ) -> None:
        """A fetch failed: try again at `retry_at_ms`, or never (None: the message stays,
        with the reason)."""
        async with self._write() as conn:
            await conn.execute(
                t.chat_messages.update()
                .where(_m.id == message_id, _m.media_id.is_(None))
                .values(
                    media_due_at=retry_at_ms,
                    media_tries=_m.media_tries + 1,
                    media_error=reason[:200],
                )
            )
