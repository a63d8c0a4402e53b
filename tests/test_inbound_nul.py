"""A NUL (U+0000) in what a person writes, on SQLite and PostgreSQL (whose `text` cannot
hold one): the message is kept with U+FFFD in its place, and the webhook answers 200.

Every channel's webhook and SMPP session hands its events to `apply_events`; the events
each channel makes (a bot chat line with a name and a caption, an SMS or Viber Business or
RCS reply, a contact linked, a survey answer, a receipt) are applied here as the webhooks
apply them, and a Telegram update goes through the real app's webhook end to end. That
each channel's handler passes a NUL on as written, for this to replace, is each channel's
own webhook cases' row (Viber bot, Viber Business, RCS; the SMS `deliver_sm` is read and
stored through the SMSC simulator in test_channel_sms_incoming).
"""

from __future__ import annotations

import pytest

from cascade.clock import ManualClock
from cascade.domain.events import (
    BotChatMessage,
    ChatContent,
    ContactLinked,
    DeliveryReport,
    Event,
    InboundMessage,
    MediaRef,
    SharedContact,
    SurveyAnswer,
    without_nul,
)
from cascade.engine.inbound import apply_events
from cascade.security import hash_secret
from cascade.store import schema as t
from cascade.store.sql import SqlStore
from tests.conftest import make_account
from tests.test_api_chathub_chats import World, bot_api, world  # noqa: F401 (fixtures)
from tests.test_api_contract import rows

NUL, SHOWN = "\x00", "\ufffd"


async def test_a_persons_sms_or_reply_with_a_nul_is_kept(
    store: SqlStore, clock: ManualClock
) -> None:
    """What an SMPP deliver_sm, a Viber Business reply (Vonage's inbound URL) and an RCS
    user message become."""
    events = [
        InboundMessage(channel, "+380501230001", "Acme", f"a{NUL}b", clock.now_ms(), f"{channel}1")
        for channel in ("sms", "viber_business", "rcs")
    ]
    applied = await apply_events(store, events)
    assert applied.arrivals == []
    texts = [row[0] for row in await rows(store, t.incoming_messages, "text")]
    assert texts == [f"a{SHOWN}b"] * 3


async def test_every_event_a_webhook_makes_is_stored_with_nul_shown(
    store: SqlStore, clock: ManualClock
) -> None:
    acme = await make_account(store)
    token = "7000000002:test-token"
    bot = await store.add_bot(acme.id, "telegram", token, hash_secret(token))
    events: list[Event] = [
        ContactLinked("telegram", bot, "+380501230002", f"10{NUL}2"),
        BotChatMessage(
            "telegram",
            bot,
            f"10{NUL}2",
            f"7{NUL}",
            clock.now_ms(),
            ChatContent.PHOTO,
            text=f"caption{NUL}",
            name=f"Ol{NUL}ena",
            media=MediaRef(f"file{NUL}", name=f"p{NUL}.jpg", mime="image/jpeg"),
        ),
        BotChatMessage(
            "telegram",
            bot,
            f"10{NUL}2",
            "8",
            clock.now_ms(),
            ChatContent.CONTACT,
            contact=SharedContact("+380501230003", name=f"Iv{NUL}an"),
        ),
        SurveyAnswer("telegram", bot, f"10{NUL}2", f"yes{NUL}", None, clock.now_ms()),
        DeliveryReport("sms", f"p{NUL}1", "delivered", clock.now_ms(), text_prefix=f"x{NUL}"),
        InboundMessage("sms", "+380501230001", f"Ac{NUL}me", f"hi{NUL}", clock.now_ms()),
    ]
    applied = await apply_events(store, events, chat_channels=("telegram",))
    [photo, card] = applied.arrivals
    assert photo.message.text == f"caption{SHOWN}"
    assert photo.chat.client_name == f"Ol{SHOWN}ena"
    assert photo.chat.address == f"10{SHOWN}2"
    assert photo.chat.client_phone == "+380501230002"  # the contact linked, NUL shown alike
    assert card.chat.id == photo.chat.id
    [(kept,)] = await rows(store, t.incoming_messages, "text")
    assert kept == f"hi{SHOWN}"


def test_without_nul_changes_only_nul() -> None:
    event = BotChatMessage(
        "telegram", "b", "1", "2", 0, ChatContent.TEXT, text=f"\t\r\nЁ😀{NUL}{NUL}end", name=None
    )
    assert without_nul(event) == BotChatMessage(
        "telegram", "b", "1", "2", 0, ChatContent.TEXT, text=f"\t\r\nЁ😀{SHOWN}{SHOWN}end"
    )
    clean = InboundMessage("sms", "+1", "x", "no nul", 0)
    assert without_nul(clean) is clean


@pytest.mark.parametrize("where", ["text", "caption", "first_name", "last_name"])
async def test_a_telegram_update_with_a_nul_is_answered_200_and_shown(
    world: World,  # noqa: F811
    where: str,
) -> None:
    w = world
    if where == "text":
        answered = await w.person_writes(1001, f"Hello{NUL}there")
    elif where == "caption":
        photo = [{"file_id": "f1", "file_unique_id": "u1", "width": 1, "height": 1}]
        answered = await w.person_writes(1001, photo=photo, caption=f"look{NUL}")
    else:
        who = {"id": 1001, "is_bot": False, "first_name": "Olena", where: f"ol{NUL}"}
        answered = await w.person_writes(1001, "Hi", **{"from": who})
    assert answered.status_code == 200, answered.text
    [chat] = (await w.api.get("/api/chat/chats", headers=w.acme.key)).json()["items"]
    [message] = (await w.api.get(f"/api/chat/{chat['id']}/messages", headers=w.acme.key)).json()
    if where == "text":
        assert message["message"] == f"Hello{SHOWN}there"
    elif where == "caption":
        assert message["message"] == f"look{SHOWN}"
    else:  # the person's name, as the chat shows it
        assert f"ol{SHOWN}" in str(chat)
    assert NUL not in str(chat) + str(message)
