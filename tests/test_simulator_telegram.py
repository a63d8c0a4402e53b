"""The Telegram simulator on a real loopback port, driven by the real Telegram channel.

The simulator and a small app serving the channel's webhook handler each run under
uvicorn in a thread, on sockets bound to 127.0.0.1 port 0, so the round trip
(simulator → webhook → method in the reply → simulator) crosses real sockets.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from msgspec.structs import replace

from cascade.channels.bot_chat import (
    ChatSent,
    FetchedMedia,
    MediaFetchError,
    MediaTooLarge,
    OutgoingMedia,
)
from cascade.channels.telegram import TelegramChannel, handle_webhook
from cascade.clock import ManualClock
from cascade.domain.events import (
    BotChatMessage,
    ChatContent,
    ChatMessageStatus,
    ContactLinked,
    ContactState,
    GeoPoint,
    MediaRef,
    SharedContact,
    SurveyAnswer,
)
from cascade.domain.sending import (
    Delivered,
    Failed,
    Misconfigured,
    Outbound,
    Sender,
    Throttled,
    Unreachable,
)
from cascade.simulators.telegram import TelegramSimulator, chat_id_for, create_app
from tests.outbound import outbound_to
from tests.receiver import Receiver
from tests.threaded_server import ThreadedServer

pytestmark = pytest.mark.live

BOT_ID = 5550001
TOKEN = f"{BOT_ID}:AAFsimulatedTokenValue_0123456789ab"
SECRET = "hook-secret_42"
SENDER = Sender(id="tg-bot-1", token=TOKEN, webhook_secret=SECRET)


# --- servers on loopback --------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def simulator(clock: ManualClock) -> TelegramSimulator:
    return TelegramSimulator(clock=clock)


@pytest.fixture
def sim_url(simulator: TelegramSimulator) -> Iterator[str]:
    with ThreadedServer(create_app(simulator=simulator)) as url:
        yield url


@pytest.fixture
async def admin(sim_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as client:
        yield client


@pytest.fixture
async def channel(sim_url: str) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(base_url=sim_url)
    yield channel
    await channel.aclose()


def outbound(phone: str, *, address: str | None = None, **changes: Any) -> Outbound:
    to = str(chat_id_for(phone)) if address is None else address
    return outbound_to(phone, SENDER, address=to, **changes)


async def received(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await admin.get("/_sim/received")
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()
    return items


# --- sending ----------------------------------------------------------------------------------


async def test_persona_1_is_delivered_and_recorded(
    channel: TelegramChannel, admin: httpx.AsyncClient, clock: ManualClock
) -> None:
    phone = "+380501234561"
    outcome = await channel.send(outbound(phone))

    assert outcome == Delivered("1")
    [item] = await received(admin)
    assert item["bot_id"] == BOT_ID
    assert item["chat_id"] == chat_id_for(phone)
    assert item["phone"] == phone
    assert item["text"] == "Your order #12345 has been confirmed"
    assert item["at_ms"] == clock.now_ms()
    assert item["via"] == "api"
    assert TOKEN not in str(item)

    assert (await admin.delete("/_sim/received")).status_code == 204
    assert await received(admin) == []


async def test_unknown_chat_is_no_chat(channel: TelegramChannel, admin: httpx.AsyncClient) -> None:
    assert await channel.send(outbound("+380501234563")) == Unreachable("NO_CHAT")
    assert await channel.send(outbound("+380501234561", address="12345")) == Unreachable("NO_CHAT")
    assert await received(admin) == []


async def test_blocked_persona(channel: TelegramChannel, admin: httpx.AsyncClient) -> None:
    outcome = await channel.send(outbound("+380501234562"))
    assert outcome == Unreachable("BLOCKED", blocked=True)
    assert await received(admin) == []


async def test_scripted_throttling(channel: TelegramChannel, admin: httpx.AsyncClient) -> None:
    phone = "+380501234566"
    script = await admin.put(f"/_sim/script/{phone}", json={"reachable": True, "throttle": True})
    assert script.status_code == 204

    assert await channel.send(outbound(phone)) == Throttled(3.0)

    assert (await admin.delete("/_sim/script")).status_code == 204
    assert await channel.send(outbound(phone)) == Unreachable("NO_CHAT")  # persona 6 again


async def test_scripted_reachable_and_failing(
    channel: TelegramChannel, admin: httpx.AsyncClient
) -> None:
    await admin.put("/_sim/script/+380501234566", json={"reachable": True})
    await admin.put(
        "/_sim/script/+380501234567",
        json={"reachable": True, "fail": True, "fail_reason": "message is too long"},
    )
    assert await channel.send(outbound("+380501234566")) == Delivered("1")
    outcome = await channel.send(outbound("+380501234567"))
    assert outcome == Failed("REJECTED: Bad Request: message is too long")
    assert [item["phone"] for item in await received(admin)] == ["+380501234566"]


async def test_one_message_per_second_per_chat(
    channel: TelegramChannel, admin: httpx.AsyncClient, clock: ManualClock
) -> None:
    phone = "+380501234561"
    assert await channel.send(outbound(phone)) == Delivered("1")
    assert await channel.send(outbound(phone)) == Throttled(1.0)
    # Another chat of the same bot is not held back.
    assert await channel.send(outbound("+380509999991")) == Delivered("1")

    clock.advance(1.0)
    assert await channel.send(outbound(phone)) == Delivered("2")
    assert len(await received(admin)) == 3


async def test_thirty_messages_per_second_per_bot(
    channel: TelegramChannel, clock: ManualClock
) -> None:
    phones = [f"+3805000{i:04d}1" for i in range(31)]
    outcomes = [await channel.send(outbound(phone)) for phone in phones]

    assert outcomes[:30] == [Delivered("1")] * 30
    assert outcomes[30] == Throttled(1.0)
    clock.advance(0.1)  # 3 tokens back at 30/s
    assert await channel.send(outbound(phones[30])) == Delivered("1")


async def test_rate_limits_can_be_switched_off() -> None:
    app = create_app(rate_limits=False, clock=ManualClock())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport) as client:
        channel = TelegramChannel(base_url="http://sim.test", client=client)
        outcomes = [await channel.send(outbound("+380501234561")) for _ in range(3)]
    assert outcomes == [Delivered("1"), Delivered("2"), Delivered("3")]


async def test_bad_tokens(channel: TelegramChannel, admin: httpx.AsyncClient) -> None:
    malformed = outbound("+380501234561", sender=Sender(id="x", token="not-a-token"))
    assert await channel.send(malformed) == Misconfigured("INVALID_TOKEN")

    assert (await admin.post(f"/_sim/bots/{BOT_ID}/revoke")).status_code == 204
    assert await channel.send(outbound("+380501234561")) == Misconfigured("INVALID_TOKEN")
    assert await received(admin) == []


async def test_bot_api_shapes(admin: httpx.AsyncClient) -> None:
    me = (await admin.get(f"/bot{TOKEN}/getMe")).json()
    assert me["ok"] is True
    assert me["result"]["id"] == BOT_ID
    assert me["result"]["is_bot"] is True

    # Form-encoded parameters, as many Bot API clients send them.
    form = await admin.post(
        f"/bot{TOKEN}/sendMessage",
        data={"chat_id": str(chat_id_for("+380501234561")), "text": "hi"},
    )
    assert form.status_code == 200
    assert form.json()["result"]["chat"]["type"] == "private"

    empty = await admin.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": 1})
    assert empty.status_code == 400
    assert empty.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message text is empty",
    }
    unknown = await admin.post(f"/bot{TOKEN}/sendSticker", json={})
    assert unknown.status_code == 404
    assert unknown.json()["description"] == "Not Found"


# --- the webhook round trip ----------------------------------------------------------------------


@pytest.fixture
def receiver() -> Receiver:
    return Receiver("telegram", handle_webhook, (SENDER,))


@pytest.fixture
def hook_url(receiver: Receiver) -> Iterator[str]:
    with ThreadedServer(receiver.app()) as url:
        receiver.url = url
        yield receiver.webhook(SENDER)


async def act(admin: httpx.AsyncClient, phone: str, action: str, **params: Any) -> dict[str, Any]:
    response = await admin.post(f"/_sim/users/{phone}/{action}", params={"bot": BOT_ID, **params})
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


async def test_webhook_round_trip(
    channel: TelegramChannel,
    admin: httpx.AsyncClient,
    receiver: Receiver,
    hook_url: str,
    clock: ManualClock,
) -> None:
    phone = "+380501234563"  # persona 3: no Telegram chat until the user starts the bot
    chat = str(chat_id_for(phone))
    await channel.set_webhook(SENDER, hook_url)
    info = (await admin.get(f"/bot{TOKEN}/getWebhookInfo")).json()["result"]
    assert info["url"] == hook_url
    assert info["allowed_updates"] == ["message", "my_chat_member", "callback_query"]

    # /start: the webhook answers with the request_contact keyboard, which Telegram runs.
    started = await act(admin, phone, "start")
    assert started["webhook_status"] == 200
    assert started["reply"]["method"] == "sendMessage"
    assert started["reply"]["status"] == 200
    [keyboard] = await received(admin)
    assert keyboard["chat_id"] == int(chat)
    assert keyboard["via"] == "webhook_reply"
    button = keyboard["reply_markup"]["keyboard"][0][0]
    assert button == {"text": "Share my phone number", "request_contact": True}
    assert receiver.events() == []

    # The user shares their own number: phone → chat is linked.
    shared = await act(admin, phone, "share_contact")
    assert shared["delivered"] is True
    assert receiver.events() == [ContactLinked("telegram", SENDER.id, phone, chat)]

    # Someone else's contact links nothing: it is a line of the chat.
    await act(admin, phone, "share_contact", of="+380509876541")
    assert len(receiver.events()) == 2
    card = receiver.events()[-1]
    assert isinstance(card, BotChatMessage)
    assert card.contact == SharedContact("+380509876541", "User 6541")

    # The learnt address now reaches the user.
    sent = await channel.send(outbound(phone, address=chat))
    assert isinstance(sent, Delivered)
    last = (await received(admin))[-1]
    assert (str(last["message_id"]), last["chat_id"], last["via"]) == (
        sent.provider_id,
        int(chat),
        "api",
    )

    # Blocking the bot: an update says so, and sends answer 403.
    await act(admin, phone, "block")
    assert receiver.events()[-1] == ContactState("telegram", SENDER.id, chat, reachable=False)
    clock.advance(1.0)
    assert await channel.send(outbound(phone, address=chat)) == Unreachable("BLOCKED", blocked=True)

    # Starting it again unblocks.
    await act(admin, phone, "start")
    assert receiver.events()[-1] == ContactState("telegram", SENDER.id, chat, reachable=True)

    # A survey as buttons; pressing one answers, and the callback query is acknowledged.
    survey = outbound(phone, address=chat, survey_options=("Yes", "No"), text="Happy?")
    assert isinstance(await channel.send(survey), Delivered)
    pressed = await act(admin, phone, "press", text="No")
    assert pressed["reply"]["method"] == "answerCallbackQuery"
    assert pressed["reply"]["status"] == 200
    answer = receiver.events()[-1]
    assert isinstance(answer, SurveyAnswer)
    assert (answer.answer, answer.message_id, answer.address) == ("No", survey.message_id, chat)

    # Or the user replies to the survey message with an option's text.
    survey_item = (await received(admin))[-1]
    assert survey_item["reply_markup"]["inline_keyboard"][0][0]["text"] == "Yes"
    await act(admin, phone, "say", text="yes", reply_to=survey_item["message_id"])
    answer = receiver.events()[-1]
    assert isinstance(answer, SurveyAnswer)
    assert (answer.answer, answer.message_id) == ("Yes", survey.message_id)

    # A button that is not there is the caller's mistake.
    missing = await admin.post(
        f"/_sim/users/{phone}/press", params={"bot": BOT_ID, "text": "Maybe"}
    )
    assert missing.status_code == 404


async def test_webhook_with_wrong_secret_is_rejected(
    channel: TelegramChannel, admin: httpx.AsyncClient, receiver: Receiver, hook_url: str
) -> None:
    impostor = replace(SENDER, webhook_secret="not-the-configured-one")
    await channel.set_webhook(impostor, hook_url)

    result = await act(admin, "+380501234561", "start")

    assert result["delivered"] is False
    assert result["webhook_status"] == 401
    assert receiver.events() == []
    assert receiver.statuses() == [401]
    info = (await admin.get(f"/bot{TOKEN}/getWebhookInfo")).json()["result"]
    assert info["last_error_message"] == "Wrong response from the webhook: 401 Unauthorized"
    assert [item["via"] for item in await received(admin)] == []  # nothing was run


async def test_user_action_without_webhook(admin: httpx.AsyncClient) -> None:
    result = await act(admin, "+380501234561", "start")
    assert result["delivered"] is False
    assert result["error"] == "no webhook set for this bot"
    assert result["update"]["message"]["text"] == "/start"


# --- chats: what people write, and operators' answers ---------------------------------------------

# a real PNG header and bytes of every value: what comes back must be these, byte for byte
PHOTO_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PDF_BYTES = b"%PDF-1.4\n" + bytes(reversed(range(256))) * 9 + b"%%EOF\n"


async def user_sends(
    admin: httpx.AsyncClient, phone: str, kind: str, data: bytes, mime: str, **params: Any
) -> dict[str, Any]:
    response = await admin.post(
        f"/_sim/users/{phone}/say",
        params={"bot": BOT_ID, "kind": kind, **params},
        content=data,
        headers={"content-type": mime},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def last_line(receiver: Receiver) -> BotChatMessage:
    line = receiver.events()[-1]
    assert isinstance(line, BotChatMessage)
    return line


async def test_chat_round_trip(
    channel: TelegramChannel,
    admin: httpx.AsyncClient,
    receiver: Receiver,
    hook_url: str,
    clock: ManualClock,
) -> None:
    """A person sends the bot a photo; the webhook makes it a chat line; the photo is
    fetched byte for byte; an operator's text and image reach the person."""
    phone = "+380501234561"
    chat = str(chat_id_for(phone))
    await channel.set_webhook(SENDER, hook_url)

    sent = await user_sends(admin, phone, "photo", PHOTO_BYTES, "image/png", text="my receipt")
    assert sent["webhook_status"] == 200
    line = last_line(receiver)
    assert (line.channel, line.sender_id, line.address) == ("telegram", SENDER.id, chat)
    assert (line.content, line.text, line.name) == (ChatContent.PHOTO, "my receipt", "User 4561")
    assert line.provider_id == str(sent["update"]["message"]["message_id"])
    assert line.at_ms == clock.now_ms() // 1000 * 1000
    assert line.media is not None
    assert line.media.size == len(PHOTO_BYTES)

    fetched = await channel.fetch_media(SENDER, line.media)
    assert fetched == FetchedMedia(PHOTO_BYTES, "image/jpeg")  # Telegram photos are JPEG

    reply = await channel.send_chat_text(SENDER, line.address, "Thanks, looking at it")
    assert reply.status is ChatMessageStatus.SUCCESS
    clock.advance(1.0)  # one message a second per chat
    image = OutgoingMedia(PHOTO_BYTES, "answer.png", "image/png")
    shown = await channel.send_chat_media(SENDER, line.address, image, "Here you go")
    assert shown.status is ChatMessageStatus.SUCCESS

    text_item, photo_item = (await received(admin))[-2:]
    assert (text_item["phone"], text_item["kind"], text_item["text"]) == (
        phone,
        "text",
        "Thanks, looking at it",
    )
    assert str(text_item["message_id"]) == reply.provider_id
    assert (photo_item["phone"], photo_item["kind"], photo_item["text"]) == (
        phone,
        "photo",
        "Here you go",
    )
    assert str(photo_item["message_id"]) == shown.provider_id
    assert photo_item["media"]["sha256"] == hashlib.sha256(PHOTO_BYTES).hexdigest()
    assert photo_item["media"]["size"] == len(PHOTO_BYTES)
    # the photo the bot sent is a file of the bot's now: its bytes come back whole
    sent_back = await channel.fetch_media(SENDER, MediaRef(photo_item["media"]["file_id"]))
    assert sent_back.data == PHOTO_BYTES


async def test_every_kind_the_person_can_write(
    channel: TelegramChannel, admin: httpx.AsyncClient, receiver: Receiver, hook_url: str
) -> None:
    phone = "+380501234561"
    await channel.set_webhook(SENDER, hook_url)

    await act(admin, phone, "say", text="hello")
    assert (last_line(receiver).content, last_line(receiver).text) == (ChatContent.TEXT, "hello")

    await user_sends(admin, phone, "document", PDF_BYTES, "application/pdf", name="invoice.pdf")
    document = last_line(receiver)
    assert document.content is ChatContent.DOCUMENT
    assert document.media is not None
    assert (document.media.name, document.media.mime) == ("invoice.pdf", "application/pdf")
    fetched = await channel.fetch_media(SENDER, document.media)
    assert fetched == FetchedMedia(PDF_BYTES, "application/pdf", "invoice.pdf")

    ogg = b"OggS\x00\x02" + bytes(500)
    await user_sends(admin, phone, "voice", ogg, "audio/ogg")
    voice = last_line(receiver)
    assert voice.content is ChatContent.VOICE
    assert voice.media is not None
    assert (await channel.fetch_media(SENDER, voice.media)).data == ogg

    mp4 = b"\x00\x00\x00\x18ftypisom" + bytes(300)
    await user_sends(admin, phone, "video", mp4, "video/mp4", name="clip.mp4", text="look")
    video = last_line(receiver)
    assert (video.content, video.text) == (ChatContent.VIDEO, "look")
    assert video.media is not None
    assert (await channel.fetch_media(SENDER, video.media)) == FetchedMedia(
        mp4, "video/mp4", "clip.mp4"
    )

    await act(admin, phone, "location", lat=50.45, lon=30.5233)
    assert last_line(receiver).location == GeoPoint(50.45, 30.5233)

    await act(admin, phone, "share_contact", of="+380509876541")
    assert last_line(receiver).contact == SharedContact("+380509876541", "User 6541")

    # onboarding is no chat line: /start and the person's own contact
    lines = len([e for e in receiver.events() if isinstance(e, BotChatMessage)])
    await act(admin, phone, "start")
    await act(admin, phone, "share_contact")
    assert len([e for e in receiver.events() if isinstance(e, BotChatMessage)]) == lines
    assert receiver.events()[-1] == ContactLinked(
        "telegram", SENDER.id, phone, str(chat_id_for(phone))
    )


async def test_media_limits_and_other_bots(
    channel: TelegramChannel, admin: httpx.AsyncClient, receiver: Receiver, hook_url: str
) -> None:
    phone = "+380501234561"
    await channel.set_webhook(SENDER, hook_url)
    await user_sends(admin, phone, "photo", PHOTO_BYTES, "image/png")
    media = last_line(receiver).media
    assert media is not None

    with pytest.raises(MediaTooLarge):
        await channel.fetch_media(SENDER, replace_size(media, None), limit=len(PHOTO_BYTES) - 1)
    other = Sender(id="tg-bot-2", token="5550002:AAFanotherBotsToken_0123456789abcd")
    with pytest.raises(MediaFetchError) as caught:
        await channel.fetch_media(other, media)  # a file id is the bot's own
    assert caught.value.reason == "MEDIA_UNAVAILABLE: getFile 400"
    assert "AAFanother" not in str(caught.value)

    chat = str(chat_id_for(phone))
    long_caption = await channel.send_chat_media(
        SENDER, chat, OutgoingMedia(PHOTO_BYTES, "a.png", "image/png"), "c" * 1025
    )
    assert long_caption == ChatSent(ChatMessageStatus.REJECTED, reason="CAPTION_TOO_LONG")
    # the simulator holds Telegram's own limit as well
    raw = await admin.post(
        f"/bot{TOKEN}/sendPhoto",
        data={"chat_id": chat, "caption": "c" * 1025},
        files={"photo": ("a.png", PHOTO_BYTES, "image/png")},
    )
    assert raw.status_code == 400
    assert raw.json()["description"] == "Bad Request: message caption is too long"
    assert (await admin.get(f"/file/bot{TOKEN}/photos/nothing.jpg")).status_code == 404


def replace_size(media: MediaRef, size: int | None) -> MediaRef:
    return dataclasses.replace(media, size=size)
