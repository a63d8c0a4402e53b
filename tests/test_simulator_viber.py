"""The Viber simulator on a real loopback port, driven by the real `ViberBotChannel`.

Two servers run in background threads: the simulator, and a small receiving app that
serves the channel's own webhook handler (so every callback the simulator sends must
carry a valid signature to produce events). The tests talk to both over loopback only.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from cascade.channels.bot_chat import ChatSent, FetchedMedia, MediaTooLarge, OutgoingMedia
from cascade.channels.viber_bot import ViberApiError, ViberBotChannel, handle_webhook
from cascade.domain.events import (
    BotChatMessage,
    ChatContent,
    ChatMessageStatus,
    ContactLinked,
    ContactState,
    GeoPoint,
    SharedContact,
    SurveyAnswer,
)
from cascade.domain.sending import Misconfigured, Outbound, Sender, Sent, Throttled, Unreachable
from cascade.simulators.viber import ViberSimulator, create_app, phone_for, user_id
from tests import live_simulator
from tests.live_simulator import live_on, script, wait_for
from tests.media_server import MEDIA, media_server
from tests.outbound import numbered_outbound_to
from tests.receiver import Receiver, json_field, report_arrivals, reports

TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
SENDER = Sender(id="bot-1", token=TOKEN)
IMPOSTOR = Sender(id="bot-2", token="a-token-the-simulator-does-not-sign-with")

pytestmark = pytest.mark.live


# --- servers in threads ------------------------------------------------------------------------

Live = live_simulator.Live[ViberSimulator, ViberBotChannel]


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    receiver = Receiver("viber_bot", handle_webhook, (SENDER, IMPOSTOR), json_field("event"))
    simulator = ViberSimulator(callback_backoff_s=0.05)
    app = create_app(simulator, bots={TOKEN: "Cascade Bot"})
    async with live_on(app, simulator, receiver, lambda url: ViberBotChannel(base_url=url)) as live:
        yield live


@pytest.fixture
async def ready(live: Live) -> Live:
    """The bot's webhook is set to the receiver, as Cascade does when a bot is registered."""
    await live.channel.set_webhook(SENDER, live.receiver.webhook(SENDER))
    return live


def outbound(phone: str, *, sender: Sender = SENDER, **overrides: Any) -> Outbound:
    return numbered_outbound_to(phone, sender, **{"address": user_id(phone), **overrides})


# --- user ids ------------------------------------------------------------------------------------


def test_user_ids_are_stable_opaque_and_reversible() -> None:
    phones = ["+380501234562", "+380501234569", "+12025550123", "+123456789012345"]
    ids = [user_id(p) for p in phones]
    assert ids == [user_id(p) for p in phones]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 24 and i.endswith("==") for i in ids)
    assert all("380" not in i for i in ids[:2])
    assert [phone_for(i) for i in ids] == phones
    assert phone_for("jc9HsWTZ2Yf2NkRZ8KcNug==") is None
    assert phone_for("not base64!") is None


# --- set_webhook -----------------------------------------------------------------------------


async def test_set_webhook_sends_a_signed_webhook_event(live: Live) -> None:
    types = await live.channel.set_webhook(SENDER, live.receiver.webhook(SENDER))
    assert "delivered" in types
    assert "seen" in types
    assert [(c.kind, c.status) for c in live.receiver.callbacks()] == [("webhook", 200)]
    info = await live.channel.get_account_info(SENDER)
    assert info["webhook"] == live.receiver.webhook(SENDER)
    assert info["name"] == "Cascade Bot"


async def test_webhook_that_rejects_the_signature_is_refused(live: Live) -> None:
    # The receiver checks bot-2's callbacks with another token, so it answers 401.
    with pytest.raises(ViberApiError) as caught:
        await live.channel.set_webhook(SENDER, live.receiver.webhook(IMPOSTOR))
    assert caught.value.status == 1
    assert [(c.kind, c.status) for c in live.receiver.callbacks()] == [("webhook", 401)]
    assert live.receiver.events() == []


async def test_send_before_set_webhook_is_misconfigured(live: Live) -> None:
    outcome = await live.channel.send(outbound("+380501234562"))
    assert outcome == Misconfigured("WEBHOOK_NOT_SET")


async def test_bad_token_is_misconfigured(ready: Live) -> None:
    wrong = Sender(id="bot-1", token="not-the-token")
    outcome = await ready.channel.send(outbound("+380501234562", sender=wrong))
    assert outcome == Misconfigured("INVALID_AUTH_TOKEN")
    with pytest.raises(ViberApiError) as caught:
        await ready.channel.get_account_info(wrong)
    assert caught.value.status == 2


# --- personas -------------------------------------------------------------------------------


async def test_persona_2_is_sent_then_delivered(ready: Live) -> None:
    phone = "+380501234562"
    share = await ready.admin.post(f"/_sim/users/{phone}/share_contact")
    assert share.json()["callback_status"] == 200
    linked = [e for e in ready.receiver.events() if isinstance(e, ContactLinked)]
    assert linked == [ContactLinked("viber_bot", "bot-1", phone=phone, address=user_id(phone))]

    outcome = await ready.channel.send(outbound(phone, address=linked[0].address))
    assert isinstance(outcome, Sent)
    await wait_for(lambda: bool(reports(ready.receiver, outcome.provider_id)))
    (report,) = reports(ready.receiver, outcome.provider_id)
    assert report.state == "delivered"
    assert abs(report.at_ms - time.time() * 1000) < 5000

    received = (await ready.admin.get("/_sim/received", params={"phone": phone})).json()
    assert len(received) == 1
    assert str(received[0]["message_token"]) == outcome.provider_id
    assert received[0]["receiver"] == user_id(phone)
    assert received[0]["text"] == "Your order #12345 has been confirmed"
    assert received[0]["tracking_data"] == "msg-" + phone
    assert received[0]["sender_name"] == "YourStore"
    assert received[0]["keyboard"] is None
    assert TOKEN not in str(received)


async def test_persona_5_never_confirms(ready: Live) -> None:
    phone = "+380501234565"
    outcome = await ready.channel.send(outbound(phone))
    assert isinstance(outcome, Sent)
    received = (await ready.admin.get("/_sim/received", params={"phone": phone})).json()
    assert [str(r["message_token"]) for r in received] == [outcome.provider_id]
    # the simulator is done with the message: whatever it was to call back has come
    await wait_for(ready.simulator.idle)
    assert reports(ready.receiver, outcome.provider_id) == []
    callbacks = (await ready.admin.get("/_sim/callbacks")).json()
    assert [c["event"] for c in callbacks] == ["webhook"]


async def test_persona_9_is_delivered_then_seen(ready: Live) -> None:
    outcome = await ready.channel.send(outbound("+380501234569"))
    assert isinstance(outcome, Sent)
    await wait_for(lambda: len(reports(ready.receiver, outcome.provider_id)) == 2)
    delivered, seen = reports(ready.receiver, outcome.provider_id)
    assert (delivered.state, seen.state) == ("delivered", "read")
    assert delivered.at_ms <= seen.at_ms


async def test_persona_3_is_not_subscribed(ready: Live) -> None:
    outcome = await ready.channel.send(outbound("+380501234563"))
    assert outcome == Unreachable("NOT_SUBSCRIBED")
    assert (await ready.admin.get("/_sim/received")).json() == []


async def test_unknown_user_id_is_not_registered(ready: Live) -> None:
    outcome = await ready.channel.send(
        outbound("+380501234562", address="jc9HsWTZ2Yf2NkRZ8KcNug==")
    )
    assert outcome == Unreachable("NOT_REGISTERED")


# --- scripts ------------------------------------------------------------------------------------


async def test_scripted_throttle(ready: Live) -> None:
    await script(ready, "+380501234562", reachable=True, throttle=True)
    outcome = await ready.channel.send(outbound("+380501234562"))
    assert isinstance(outcome, Throttled)
    assert outcome.reason == "TOO_MANY_REQUESTS"
    assert outcome.retry_after_s > 0


async def test_scripted_blocked_and_unreachable(ready: Live) -> None:
    await script(ready, "+380501234562", reachable=True, blocked=True)
    await script(ready, "+380501234569", reachable=False)
    for phone in ("+380501234562", "+380501234569"):
        assert await ready.channel.send(outbound(phone)) == Unreachable("NOT_SUBSCRIBED")
    assert (await ready.admin.delete("/_sim/script")).status_code == 204
    assert isinstance(await ready.channel.send(outbound("+380501234562")), Sent)


async def test_scripted_failure_reports_failed(ready: Live) -> None:
    await script(ready, "+380501234560", reachable=True, fail=True, fail_reason="bad keyboard")
    outcome = await ready.channel.send(outbound("+380501234560"))
    assert isinstance(outcome, Sent)
    await wait_for(lambda: bool(reports(ready.receiver, outcome.provider_id)))
    assert [(r.state, r.reason) for r in reports(ready.receiver, outcome.provider_id)] == [
        ("failed", "bad keyboard")
    ]


async def test_scripted_delay_holds_the_receipt(ready: Live) -> None:
    await script(ready, "+380501234560", reachable=True, deliver_after_ms=400)
    sent_at = time.monotonic()
    outcome = await ready.channel.send(outbound("+380501234560"))
    assert isinstance(outcome, Sent)  # the send answer does not wait for the receipt
    await wait_for(lambda: bool(reports(ready.receiver, outcome.provider_id)))
    # held: it came no sooner than the scripted 400 ms after the send
    assert report_arrivals(ready.receiver, outcome.provider_id)[0] - sent_at >= 0.4


# --- user actions ---------------------------------------------------------------------------------


async def test_subscribe_then_unsubscribe(ready: Live) -> None:
    phone = "+380501234563"
    address = user_id(phone)
    subscribed = await ready.admin.post(f"/_sim/users/{phone}/subscribe")
    assert subscribed.json() == {"event": "subscribed", "user_id": address, "callback_status": 200}
    assert isinstance(await ready.channel.send(outbound(phone)), Sent)
    await ready.admin.post(f"/_sim/users/{phone}/unsubscribe")
    assert await ready.channel.send(outbound(phone)) == Unreachable("NOT_SUBSCRIBED")
    states = [e for e in ready.receiver.events() if isinstance(e, ContactState)]
    assert states == [
        ContactState("viber_bot", "bot-1", address, reachable=True),
        ContactState("viber_bot", "bot-1", address, reachable=False),
    ]


async def test_conversation_started(ready: Live) -> None:
    await ready.admin.post("/_sim/users/+380501234563/conversation_started")
    await ready.admin.post("/_sim/users/+380501234569/conversation_started")
    assert [(c.kind, c.status) for c in ready.receiver.callbacks()][1:] == [
        ("conversation_started", 200),
        ("conversation_started", 200),
    ]
    # Only the subscriber (persona 9) becomes reachable by opening the chat.
    assert ready.receiver.events() == [
        ContactState("viber_bot", "bot-1", user_id("+380501234569"), reachable=True)
    ]


async def test_survey_keyboard_and_answer(ready: Live) -> None:
    phone = "+380501234569"
    out = outbound(
        phone, message_type="viber_survey", text="Rate us", survey_options=("Good", "Bad")
    )
    assert isinstance(await ready.channel.send(out), Sent)
    (received,) = (await ready.admin.get("/_sim/received", params={"phone": phone})).json()
    buttons = received["keyboard"]["Buttons"]
    assert [(b["ActionType"], b["ActionBody"]) for b in buttons] == [
        ("reply", "Good"),
        ("reply", "Bad"),
    ]
    answered = await ready.admin.post(f"/_sim/users/{phone}/answer", params={"text": "Good"})
    assert answered.json()["callback_status"] == 200
    answers = [e for e in ready.receiver.events() if isinstance(e, SurveyAnswer)]
    assert len(answers) == 1
    assert (answers[0].answer, answers[0].message_id) == ("Good", "msg-" + phone)
    assert answers[0].address == user_id(phone)


async def test_admin_rejects_bad_input(live: Live) -> None:
    assert (await live.admin.post("/_sim/users/+380501234563/subscribe")).status_code == 409
    assert (await live.admin.get("/_sim/users/12345")).status_code == 400
    assert (await live.admin.post("/_sim/users/+380501234563/dance")).status_code == 404
    response = await live.admin.post("/_sim/users/+380501234563/subscribe?token=nope")
    assert response.status_code == 404


async def test_forged_callback_is_rejected(ready: Live) -> None:
    body = msgspec.json.encode(
        {"event": "delivered", "timestamp": 1, "message_token": 42, "user_id": "u"}
    )
    async with httpx.AsyncClient(timeout=5) as client:
        unsigned = await client.post(ready.receiver.webhook(SENDER), content=body)
        forged = await client.post(
            ready.receiver.webhook(SENDER),
            content=body,
            headers={"X-Viber-Content-Signature": "0" * 64},
        )
    assert (unsigned.status_code, forged.status_code) == (401, 401)
    assert reports(ready.receiver, "42") == []


async def test_received_can_be_cleared(ready: Live) -> None:
    assert isinstance(await ready.channel.send(outbound("+380501234565")), Sent)
    assert len((await ready.admin.get("/_sim/received")).json()) == 1
    assert (await ready.admin.delete("/_sim/received")).status_code == 204
    assert (await ready.admin.get("/_sim/received")).json() == []


# --- chats: what people write, and operators' answers ---------------------------------------------

PICTURE = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 30  # every byte value


async def user_says(live: Live, phone: str, kind: str, data: bytes = b"", **params: Any) -> None:
    headers = {"content-type": params.pop("mime")} if "mime" in params else {}
    response = await live.admin.post(
        f"/_sim/users/{phone}/say",
        params={"kind": kind, **params},
        content=data,
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["callback_status"] == 200


def lines(live: Live) -> list[BotChatMessage]:
    return [e for e in live.receiver.events() if isinstance(e, BotChatMessage)]


async def test_chat_round_trip(ready: Live) -> None:
    """A person sends the bot a picture; the webhook makes it a chat line; the picture is
    fetched byte for byte; an operator's text and image reach the person, and their
    receipts say Success, then Read."""
    phone = "+380501234569"  # persona 9: subscribed, reads at once
    await user_says(ready, phone, "picture", PICTURE, mime="image/jpeg", text="my receipt")
    [line] = lines(ready)
    assert (line.channel, line.sender_id, line.address) == ("viber_bot", SENDER.id, user_id(phone))
    assert (line.content, line.text, line.name) == (
        ChatContent.PHOTO,
        "my receipt",
        "Sim User 4569",
    )
    assert line.media is not None

    fetched = await ready.channel.fetch_media(SENDER, line.media)
    assert fetched == FetchedMedia(PICTURE, "image/jpeg")

    with media_server() as cascade_media:  # stands for Cascade serving the operator's upload
        kind, image = MEDIA["card.png"]
        upload = OutgoingMedia(image, "card.png", kind, url=cascade_media.url("card.png"))
        said = await ready.channel.send_chat_text(SENDER, line.address, "Thanks!", from_name="Olga")
        shown = await ready.channel.send_chat_media(SENDER, line.address, upload, "Here it is")
    assert said.status is shown.status is ChatMessageStatus.NEW  # receipts will follow

    text_item, picture_item = (await ready.admin.get("/_sim/received")).json()[-2:]
    assert (text_item["phone"], text_item["type"], text_item["text"]) == (phone, "text", "Thanks!")
    assert text_item["sender_name"] == "Olga"
    assert str(text_item["message_token"]) == said.provider_id
    assert (picture_item["type"], picture_item["text"]) == ("picture", "Here it is")
    assert str(picture_item["message_token"]) == shown.provider_id
    assert picture_item["media"]["sha256"] == hashlib.sha256(image).hexdigest()
    assert picture_item["media"]["content_type"] == "image/png"

    for sent in (said, shown):
        await wait_for(lambda sent=sent: len(reports(ready.receiver, sent.provider_id)) == 2)
        statuses = [
            ChatMessageStatus.of_report(r.state) for r in reports(ready.receiver, sent.provider_id)
        ]
        assert statuses == [ChatMessageStatus.SUCCESS, ChatMessageStatus.READ]


async def test_every_kind_the_person_can_write(ready: Live) -> None:
    phone = "+380501234562"
    await user_says(ready, phone, "text", text="hello")
    await user_says(ready, phone, "file", PICTURE, mime="application/pdf", name="scan.pdf")
    await user_says(ready, phone, "video", PICTURE, mime="video/mp4", name="clip.mp4")
    await user_says(ready, phone, "location", lat="50.45", lon="30.5233")
    await user_says(ready, phone, "contact", of="+380509876541")
    text, file, video, location, card = lines(ready)
    assert (text.content, text.text) == (ChatContent.TEXT, "hello")
    assert file.content is ChatContent.DOCUMENT
    assert file.media is not None
    assert (file.media.name, file.media.size) == ("scan.pdf", len(PICTURE))
    assert await ready.channel.fetch_media(SENDER, file.media) == FetchedMedia(
        PICTURE, "application/pdf", "scan.pdf"
    )
    assert video.content is ChatContent.VIDEO
    assert video.media is not None
    assert video.media.size == len(PICTURE)
    assert location.location == GeoPoint(50.45, 30.5233)
    assert card.contact == SharedContact("+380509876541", "Sim User 6541")
    # sharing one's own phone is onboarding, not a chat line
    await ready.admin.post(f"/_sim/users/{phone}/share_contact")
    await wait_for(lambda: isinstance(ready.receiver.events()[-1], ContactLinked))
    assert len(lines(ready)) == 5
    with pytest.raises(MediaTooLarge):
        await ready.channel.fetch_media(SENDER, file.media, limit=len(PICTURE) - 1)


async def test_media_viber_cannot_fetch_is_refused(ready: Live) -> None:
    with media_server() as cascade_media:
        gone = OutgoingMedia(b"%PDF", "gone.pdf", "application/pdf", url=cascade_media.url("x.pdf"))
        refused = await ready.channel.send_chat_media(SENDER, user_id("+380501234562"), gone)
        not_a_picture_url = await ready.channel.send_chat_picture(
            SENDER, user_id("+380501234562"), cascade_media.url("invoice.pdf")
        )
    assert refused == ChatSent(ChatMessageStatus.REJECTED, reason="BAD_DATA")
    assert not_a_picture_url == ChatSent(ChatMessageStatus.REJECTED, reason="BAD_DATA")
