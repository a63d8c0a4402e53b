"""The in-memory store's ChatHub chats, messages and media: as
`cascade.store.sql.conversations` does, over the tables' dicts."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence

import msgspec

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
from cascade.store.memory.tables import ChatMediaRow, ChatMessageRow, ChatRow, MemoryBase

_ref_codec = msgspec.json.Decoder(MediaRef)


def _chat(row: ChatRow) -> Chat:
    return Chat(
        id=row.id,
        account_id=row.account_id,
        organization_id=row.organization_id,
        bot_id=row.bot_id,
        channel=row.channel,
        address=row.address,
        client_name=row.client_name,
        client_phone=row.client_phone,
        status=ChatStatus(row.status),
        operator_id=row.operator_id,
        theme=row.theme,
        created_at_ms=row.created_at,
        last_message_at_ms=row.last_message_at,
        unread=row.unread,
        first_client_at_ms=row.first_client_at,
        first_response_at_ms=row.first_response_at,
    )


def _info(row: ChatMediaRow) -> StoredMediaInfo:
    return StoredMediaInfo(row.id, row.name, row.mime, row.size, row.token)


def _contains(haystack: str | None, needle: str) -> bool:
    return haystack is not None and needle in haystack.lower()


class Conversations(MemoryBase):
    def _message(self, row: ChatMessageRow) -> ChatMessage:
        media = self._t.chat_media.get(row.media_id) if row.media_id is not None else None
        return ChatMessage(
            id=row.id,
            chat_id=row.chat_id,
            author=Author(row.author),
            text=row.text,
            content=row.content,
            status=ChatMessageStatus(row.status),
            created_at_ms=row.created_at,
            provider_id=row.provider_id,
            media=_info(media) if media is not None else None,
            media_pending=row.media_id is None and row.media_ref is not None,
            media_error=row.media_error,
        )

    def _next_id(self, table: Iterable[int]) -> int:
        return max(table, default=0) + 1

    # --- a person's messages ------------------------------------------------------------

    async def record_chat_messages(
        self, messages: Sequence[BotChatMessage]
    ) -> list[ChatArrival | None]:
        now = self._clock.now_ms()
        return [self._record_one(message, now) for message in messages]

    def _record_one(self, message: BotChatMessage, now: int) -> ChatArrival | None:
        bot = self._t.bots.get(message.sender_id)
        if bot is None or bot.channel != message.channel:
            return None
        phone = self._phone(message)
        chat = next(
            (
                c
                for c in self._t.chats.values()
                if c.bot_id == message.sender_id and c.address == message.address
            ),
            None,
        )
        created = chat is None
        reopened = False
        if chat is None:
            link = self._t.organization_bots.get(message.sender_id)
            organization_id = link.organization_id if link is not None else None
            chat = ChatRow(
                id=self._next_id(self._t.chats),
                account_id=bot.account_id,
                organization_id=organization_id,
                bot_id=message.sender_id,
                channel=message.channel,
                address=message.address,
                client_name=message.name,
                client_phone=phone,
                status=int(ChatStatus.NEW),
                operator_id=self._choose(bot.account_id, organization_id),
                created_at=now,
                last_message_at=now,
                unread=0,
                first_client_at=now,
            )
            self._t.chats[chat.id] = chat
        else:
            for m in self._t.chat_messages.values():
                if (
                    m.chat_id == chat.id
                    and m.author == Author.CLIENT
                    and m.provider_id == message.provider_id
                ):
                    return None
            if chat.status == ChatStatus.CLOSED:
                reopened = True
                chat.status = int(ChatStatus.NEW)
                if chat.organization_id is not None:
                    chat.operator_id = self._choose(bot.account_id, chat.organization_id)
            if message.name:
                chat.client_name = message.name
            if phone:
                chat.client_phone = phone
            if chat.first_client_at is None:
                chat.first_client_at = now
        media = message.media if message.content in MEDIA_CONTENT else None
        row = ChatMessageRow(
            id=self._next_id(self._t.chat_messages),
            chat_id=chat.id,
            author=int(Author.CLIENT),
            content=message.content.value,
            text=client_text(message),
            status=int(ChatMessageStatus.SUCCESS),
            provider_id=message.provider_id,
            media_ref=msgspec.json.encode(media).decode() if media else None,
            media_due_at=now if media else None,
            created_at=now,
        )
        self._t.chat_messages[row.id] = row
        chat.last_message_at = now
        chat.unread += 1
        return ChatArrival(_chat(chat), self._message(row), created, reopened)

    def _phone(self, message: BotChatMessage) -> str | None:
        found = [
            c
            for c in self._t.contacts.values()
            if (c.channel, c.sender_id, c.address)
            == (message.channel, message.sender_id, message.address)
        ]
        return max(found, key=lambda c: c.updated_at).phone if found else None

    def _loads(self, account_id: str, organization_id: int) -> list[OperatorLoad]:
        counts: dict[int, int] = {}
        for c in self._t.chats.values():
            open_ = c.status != ChatStatus.CLOSED
            if c.account_id == account_id and c.operator_id is not None and open_:
                counts[c.operator_id] = counts.get(c.operator_id, 0) + 1
        return [
            OperatorLoad(op.id, OperatorStatus(op.status), counts.get(op.id, 0))
            for op in self._t.operators.values()
            if op.account_id == account_id and op.organization_id == organization_id
        ]

    def _choose(self, account_id: str, organization_id: int | None) -> int | None:
        if organization_id is None:
            return None
        return choose_operator(self._loads(account_id, organization_id))

    # --- operators' status and their chats ------------------------------------------------

    async def set_operator_status(
        self, account_id: str, operator_id: int, status: OperatorStatus
    ) -> OperatorChange | None:
        row = self._t.operators.get((account_id, operator_id))
        if row is None:
            return None
        placed: dict[int, int | None] = {}
        if OperatorStatus(row.status) is not status:
            is_open = [
                c
                for c in sorted(self._t.chats.values(), key=lambda c: (c.created_at, c.id))
                if c.status != ChatStatus.CLOSED
            ]
            own = [
                c.id for c in is_open if c.account_id == account_id and c.operator_id == operator_id
            ]
            unassigned = [
                c.id
                for c in is_open
                if c.organization_id == row.organization_id and c.operator_id is None
            ]
            placed = placements_after(
                operator_id, status, self._loads(account_id, row.organization_id), own, unassigned
            )
            for chat_id, new_operator in placed.items():
                self._t.chats[chat_id].operator_id = new_operator
        row.status = int(status)
        row.updated_at = self._clock.now_ms()
        changed = Operator(row.id, row.account_id, row.organization_id, row.name, status)
        moved = sorted((self._t.chats[i] for i in placed), key=lambda c: (c.created_at, c.id))
        return OperatorChange(changed, [_chat(c) for c in moved])

    # --- reading --------------------------------------------------------------------------

    def _own_chat(self, account_id: str, chat_id: int) -> ChatRow | None:
        row = self._t.chats.get(chat_id)
        return row if row is not None and row.account_id == account_id else None

    async def chat(self, account_id: str, chat_id: int) -> Chat | None:
        row = self._own_chat(account_id, chat_id)
        return _chat(row) if row is not None else None

    def _matches(self, c: ChatRow, q: ChatQuery) -> bool:
        if c.organization_id is None:
            if not q.include_unowned:
                return False
        elif c.organization_id not in q.organization_ids:
            return False
        if q.search:
            needle = q.search.lower()
            if not (
                _contains(c.client_name, needle)
                or (c.client_phone is not None and q.search in c.client_phone)
                or q.search in c.address
                or _contains(c.theme, needle)
                or any(
                    m.chat_id == c.id and needle in m.text.lower()
                    for m in self._t.chat_messages.values()
                )
            ):
                return False
        checks = [
            (q.channel, c.channel),
            (q.address, c.address),
            (q.phone, c.client_phone),
            (None if q.status is None else int(q.status), c.status),
            (q.organization_id, c.organization_id),
            (q.operator_id, c.operator_id),
        ]
        if any(wanted is not None and wanted != value for wanted, value in checks):
            return False
        if q.date_from_ms is not None and c.last_message_at < q.date_from_ms:
            return False
        return q.date_to_ms is None or c.last_message_at <= q.date_to_ms

    async def list_chats(self, account_id: str, query: ChatQuery) -> ChatPage:
        found = [
            c
            for c in self._t.chats.values()
            if c.account_id == account_id and self._matches(c, query)
        ]
        found.sort(key=lambda c: (c.last_message_at, c.id), reverse=True)
        start = (query.page - 1) * query.per_page
        return ChatPage(len(found), [_chat(c) for c in found[start : start + query.per_page]])

    async def chat_messages(
        self, account_id: str, chat_id: int, page: int, per_page: int
    ) -> list[ChatMessage] | None:
        if self._own_chat(account_id, chat_id) is None:
            return None
        rows = sorted(
            (m for m in self._t.chat_messages.values() if m.chat_id == chat_id),
            key=lambda m: m.id,
        )
        start = (page - 1) * per_page
        return [self._message(m) for m in rows[start : start + per_page]]

    async def chat_stats(self, account_id: str) -> ChatStats:
        mine = [_chat(c) for c in self._t.chats.values() if c.account_id == account_id]
        by_status = {s: sum(1 for c in mine if c.status is s) for s in ChatStatus}
        times = [first_response_ms(c) for c in mine]
        return ChatStats(by_status, [x for x in times if x is not None])

    # --- changing chats ---------------------------------------------------------------------

    async def mark_chat_read(self, account_id: str, chat_id: int) -> None:
        row = self._own_chat(account_id, chat_id)
        if row is not None:
            row.unread = 0

    async def set_chat_status(
        self, account_id: str, chat_id: int, status: ChatStatus
    ) -> Chat | None:
        row = self._own_chat(account_id, chat_id)
        if row is None:
            return None
        row.status = int(status)
        return _chat(row)

    async def delete_chat(self, account_id: str, chat_id: int) -> bool:
        if self._own_chat(account_id, chat_id) is None:
            return False
        for m in [m for m in self._t.chat_messages.values() if m.chat_id == chat_id]:
            if m.media_id is not None:
                self._t.chat_media.pop(m.media_id, None)
            del self._t.chat_messages[m.id]
        del self._t.chats[chat_id]
        return True

    # --- operators' messages -----------------------------------------------------------------

    async def add_operator_message(
        self, account_id: str, chat_id: int, text: str, media: NewMedia | None = None
    ) -> ChatEntry | None:
        if media is not None and len(media.data) > MAX_MEDIA_BYTES:
            raise ValueError("media larger than MAX_MEDIA_BYTES")
        chat = self._own_chat(account_id, chat_id)
        if chat is None:
            return None
        now = self._clock.now_ms()
        media_id = self._insert_media(account_id, media, now) if media is not None else None
        content = "text"
        if media is not None:
            content = "photo" if media.mime.startswith("image/") else "document"
        row = ChatMessageRow(
            id=self._next_id(self._t.chat_messages),
            chat_id=chat_id,
            author=int(Author.OPERATOR),
            content=content,
            text=text,
            status=int(ChatMessageStatus.NEW),
            provider_id=None,
            media_id=media_id,
            created_at=now,
        )
        self._t.chat_messages[row.id] = row
        chat.last_message_at = max(chat.last_message_at, now)
        if chat.first_response_at is None and chat.first_client_at is not None:
            chat.first_response_at = now
        if chat.status == ChatStatus.NEW:
            chat.status = int(ChatStatus.OPEN)
        return ChatEntry(_chat(chat), self._message(row))

    def _insert_media(self, account_id: str, media: NewMedia, now: int) -> int:
        media_id = self._next_id(self._t.chat_media)
        self._t.chat_media[media_id] = ChatMediaRow(
            id=media_id,
            account_id=account_id,
            token=secrets.token_urlsafe(24),
            name=media.name,
            mime=media.mime[:100],
            size=len(media.data),
            data=media.data,
            created_at=now,
        )
        return media_id

    async def settle_operator_message(
        self,
        message_id: int,
        status: ChatMessageStatus,
        provider_id: str | None,
        reason: str | None = None,
    ) -> ChatEntry | None:
        row = self._t.chat_messages.get(message_id)
        if row is None:
            return None
        chat = self._t.chats[row.chat_id]
        if provider_id:
            early = sorted(
                (
                    o
                    for o in self._t.orphan_reports.values()
                    if o.channel == chat.channel and o.provider_message_id == provider_id
                ),
                key=lambda o: (o.at, o.id),
            )
            for orphan in early:
                reported = ChatMessageStatus.of_report(orphan.state)  # type: ignore[arg-type]
                status = after_receipt(status, reported) or status
                del self._t.orphan_reports[orphan.id]
        row.status = int(status)
        row.provider_id = provider_id or None
        row.reason = reason[:200] if reason else None
        return ChatEntry(_chat(chat), self._message(row))

    async def record_chat_receipts(self, reports: Sequence[DeliveryReport]) -> ChatReceipts:
        matched: list[bool] = []
        changed: list[ChatEntry] = []
        for report in reports:
            row = next(
                (
                    m
                    for m in self._t.chat_messages.values()
                    if m.provider_id == report.provider_id
                    and m.author == Author.OPERATOR
                    and self._t.chats[m.chat_id].channel == report.channel
                ),
                None,
            )
            matched.append(row is not None)
            if row is None:
                continue
            new = after_receipt(
                ChatMessageStatus(row.status), ChatMessageStatus.of_report(report.state)
            )
            if new is not None:
                row.status = int(new)
                changed.append(ChatEntry(_chat(self._t.chats[row.chat_id]), self._message(row)))
        return ChatReceipts(matched, changed)

    # --- media ----------------------------------------------------------------------------

    def _stored(self, row: ChatMediaRow | None) -> StoredMedia | None:
        return StoredMedia(_info(row), row.account_id, row.data) if row is not None else None

    async def chat_media(self, account_id: str, chat_id: int, media_id: int) -> StoredMedia | None:
        if self._own_chat(account_id, chat_id) is None:
            return None
        if not any(
            m.chat_id == chat_id and m.media_id == media_id for m in self._t.chat_messages.values()
        ):
            return None
        return self._stored(self._t.chat_media.get(media_id))

    async def public_chat_media(self, token: str) -> StoredMedia | None:
        return self._stored(
            next((m for m in self._t.chat_media.values() if m.token == token), None)
        )

    async def claim_due_media(self, limit: int = 20, lease_ms: int = 60_000) -> list[PendingMedia]:
        now = self._clock.now_ms()
        due = sorted(
            (
                m
                for m in self._t.chat_messages.values()
                if m.media_due_at is not None and m.media_due_at <= now and m.media_ref
            ),
            key=lambda m: (m.media_due_at or 0, m.id),
        )[:limit]
        found = []
        for m in due:
            m.media_due_at = now + lease_ms
            chat = self._t.chats[m.chat_id]
            ref = _ref_codec.decode(m.media_ref or "")
            found.append(
                PendingMedia(
                    m.id,
                    m.chat_id,
                    chat.bot_id,
                    chat.channel,
                    ref.ref,
                    ref.name,
                    ref.mime,
                    ref.size,
                    m.media_tries,
                )
            )
        return found

    async def attach_chat_media(self, message_id: int, media: NewMedia) -> ChatEntry | None:
        row = self._t.chat_messages.get(message_id)
        if row is None or row.media_id is not None:
            return None
        chat = self._t.chats[row.chat_id]
        row.media_id = self._insert_media(chat.account_id, media, self._clock.now_ms())
        row.media_due_at = None
        row.media_error = None
        return ChatEntry(_chat(chat), self._message(row))

    async def chat_media_failed(
        self, message_id: int, reason: str, retry_at_ms: int | None
    ) -> None:
        row = self._t.chat_messages.get(message_id)
        if row is None or row.media_id is not None:
            return
        row.media_due_at = retry_at_ms
        row.media_tries += 1
        row.media_error = reason[:200]
