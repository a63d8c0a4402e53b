"""A chat to find, for ChatHub's tests: a Telegram bot owned by an organization, a
person's first message to it, and an operator's upload in that chat (which has a public
URL, as Viber fetches it)."""

from __future__ import annotations

from dataclasses import dataclass

from cascade.domain.chats import NewMedia
from cascade.domain.events import BotChatMessage, ChatContent
from cascade.security import hash_secret
from cascade.store.sql import SqlStore

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@dataclass(frozen=True)
class SeededChat:
    chat_id: int
    media_id: int
    media_token: str  # the upload's public URL: /api/chat/media/public/{token}/a.png

    @property
    def public_path(self) -> str:
        return f"/api/chat/media/public/{self.media_token}/a.png"


async def chat_with_upload(
    store: SqlStore, account_id: str, organization_id: int, bot_token: str
) -> SeededChat:
    bot = await store.add_bot(account_id, "telegram", bot_token, hash_secret(bot_token))
    await store.attach_bots(account_id, organization_id, [bot])
    said = BotChatMessage("telegram", bot, "1001", "m1", 0, ChatContent.TEXT, "Hi", name="Olena")
    [arrival] = await store.record_chat_messages([said])
    assert arrival is not None
    upload = await store.add_operator_message(
        account_id, arrival.chat.id, "", NewMedia("a.png", "image/png", PNG)
    )
    assert upload is not None
    assert upload.message.media is not None
    return SeededChat(arrival.chat.id, upload.message.media.id, upload.message.media.token)
