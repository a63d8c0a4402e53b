"""The Vonage (Viber Business) simulator on a real loopback port, driven by the real
`ViberBusinessChannel`.

Two servers run in background threads: the simulator, and a small receiving app that
serves the channel's own webhook handler (so every status webhook the simulator sends must
carry a valid JWT to produce events). The tests talk to both over loopback only.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest

from cascade.channels.viber_business import ViberBusinessChannel, handle_webhook
from cascade.domain.content import Content, Media, MediaKind
from cascade.domain.events import InboundMessage
from cascade.domain.sending import (
    Failed,
    Misconfigured,
    Outbound,
    Sender,
    Sent,
    Throttled,
    Unreachable,
)
from cascade.simulators.script import Behaviour
from cascade.simulators.viber_business import VonageSimulator, create_app, rejection_code
from tests import live_simulator
from tests.live_simulator import live_on, script, wait_for
from tests.media_server import MediaHost, media_server
from tests.outbound import numbered_outbound_to
from tests.receiver import Receiver, json_field, report_arrivals, reports

API_KEY = "a1b2c3d4"
API_SECRET = "Z9y8X7w6V5u4T3s2"
SIGNATURE_SECRET = "sig-secret-0123456789abcdef0123456789abcdef"
SERVICE_ID = "16273"
SENDER = Sender(id="acct-1", token=f"{API_KEY}:{API_SECRET}", webhook_secret=SIGNATURE_SECRET)
# Cascade believes acct-2's webhooks only when signed with another secret: the simulator's
# webhooks for it are refused.
IMPOSTOR = Sender(id="acct-2", token=f"{API_KEY}:{API_SECRET}", webhook_secret="other-secret")

pytestmark = pytest.mark.live


# --- servers in threads ------------------------------------------------------------------------

Live = live_simulator.Live[VonageSimulator, ViberBusinessChannel]


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    receiver = Receiver("viber_business", handle_webhook, (SENDER, IMPOSTOR), json_field("status"))
    simulator = VonageSimulator(service_ids=frozenset({SERVICE_ID}), callback_backoff_s=0.05)
    app = create_app(simulator, accounts={API_KEY: API_SECRET})

    def channel_for(url: str) -> ViberBusinessChannel:
        return ViberBusinessChannel(base_url=url, service_id=SERVICE_ID)

    async with live_on(app, simulator, receiver, channel_for) as live:
        yield live


@pytest.fixture(scope="module")
def media() -> Iterator[MediaHost]:
    """The media the messages name, served on loopback for the simulator to fetch."""
    with media_server() as host:
        yield host


@pytest.fixture
async def ready(live: Live) -> Live:
    """The account's status URL points at the receiver, as set in Vonage's dashboard."""
    answer = await live.admin.post(
        "/_sim/webhook",
        json={"url": live.receiver.webhook(SENDER), "signature_secret": SIGNATURE_SECRET},
    )
    assert answer.status_code == 200
    return live


def outbound(phone: str, *, sender: Sender = SENDER, **overrides: Any) -> Outbound:
    return numbered_outbound_to(phone, sender, **overrides)


# --- personas ----------------------------------------------------------------------------------


async def test_persona_3_is_sent_then_signed_delivered(ready: Live) -> None:
    phone = "+380501234563"
    outcome = await ready.channel.send(outbound(phone))
    assert isinstance(outcome, Sent)
    await wait_for(lambda: bool(reports(ready.receiver, outcome.provider_id)))
    (report,) = reports(ready.receiver, outcome.provider_id)
    assert report.state == "delivered"
    assert report.channel == "viber_business"
    assert abs(report.at_ms - time.time() * 1000) < 5000
    # "submitted" came first, was believed (200) and made no event
    first = ready.receiver.callbacks()[0]
    assert (first.kind, first.status, first.events) == ("submitted", 200, ())

    (received,) = (await ready.admin.get("/_sim/received", params={"phone": phone})).json()
    assert received["message_uuid"] == outcome.provider_id
    assert received["to"] == "380501234563"
    assert received["sender"] == SERVICE_ID
    assert received["message_type"] == "text"
    assert received["text"] == "Your order #12345 has been confirmed"
    assert received["category"] == "transaction"
    assert received["ttl"] == 3600
    assert (received["image"], received["button"]) == (None, None)
    assert received["client_ref"] == "att-" + phone
    assert API_SECRET not in str(received)


async def test_persona_9_is_delivered_then_read(ready: Live) -> None:
    outcome = await ready.channel.send(outbound("+380501234569"))
    assert isinstance(outcome, Sent)
    await wait_for(lambda: len(reports(ready.receiver, outcome.provider_id)) == 2)
    delivered, read = reports(ready.receiver, outcome.provider_id)
    assert (delivered.state, read.state) == ("delivered", "read")
    assert delivered.at_ms <= read.at_ms


async def test_persona_5_never_confirms(ready: Live) -> None:
    outcome = await ready.channel.send(outbound("+380501234565"))
    assert isinstance(outcome, Sent)
    # the simulator is done with the message: whatever it was to call back has come
    await wait_for(ready.simulator.idle)
    assert reports(ready.receiver, outcome.provider_id) == []
    callbacks = (await ready.admin.get("/_sim/callbacks")).json()
    assert [c["status"] for c in callbacks] == ["submitted"]


@pytest.mark.parametrize("phone", ["+380501234566", "+380501234561", "+380501234564"])
async def test_not_a_viber_user_is_a_failed_report(ready: Live, phone: str) -> None:
    outcome = await ready.channel.send(outbound(phone))
    assert isinstance(outcome, Sent)  # Vonage takes it; Viber turns it down afterwards
    await wait_for(lambda: bool(reports(ready.receiver, outcome.provider_id)))
    (report,) = reports(ready.receiver, outcome.provider_id)
    assert (report.state, report.reason) == ("failed", "NOT_VIBER_USER")
    # the simulator records a webhook once the receiver has answered it
    await wait_for(lambda: len(ready.simulator.callbacks) == 2)
    callbacks = (await ready.admin.get("/_sim/callbacks")).json()
    assert [(c["status"], c["error_code"], c["http_status"]) for c in callbacks] == [
        ("submitted", None, 200),
        ("rejected", 1300, 200),
    ]


# --- scripts ------------------------------------------------------------------------------------


async def test_scripted_throttle(ready: Live) -> None:
    await script(ready, "+380501234563", reachable=True, throttle=True, retry_after_s=4)
    outcome = await ready.channel.send(outbound("+380501234563"))
    assert outcome == Throttled(retry_after_s=4.0, reason="THROTTLED")
    assert (await ready.admin.get("/_sim/received")).json() == []


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ({"reachable": True, "blocked": True}, "BLOCKED"),
        ({"reachable": True, "no_device": True}, "NO_SUITABLE_DEVICE"),
        ({"reachable": True, "registered": False}, "NOT_VIBER_USER"),
        ({"reachable": True, "fail": True, "fail_reason": "1380"}, "INVALID_RESOURCE"),
        ({"reachable": True, "fail": True}, "UNKNOWN"),
    ],
)
async def test_scripted_rejections(ready: Live, behaviour: dict[str, Any], reason: str) -> None:
    await script(ready, "+380501234563", **behaviour)
    outcome = await ready.channel.send(outbound("+380501234563"))
    assert isinstance(outcome, Sent)
    await wait_for(lambda: bool(reports(ready.receiver, outcome.provider_id)))
    assert [(r.state, r.reason) for r in reports(ready.receiver, outcome.provider_id)] == [
        ("failed", reason)
    ]


async def test_delivery_later_than_the_ttl_expires(ready: Live) -> None:
    await script(ready, "+380501234563", reachable=True, deliver_after_ms=60_000)
    outcome = await ready.channel.send(outbound("+380501234563", ttl_remaining_s=30))
    assert isinstance(outcome, Sent)
    # the simulator holds the "expired" report for the TTL; do not wait 30 s for it
    received = (await ready.admin.get("/_sim/received")).json()
    assert received[0]["ttl"] == 30


async def test_scripted_delay_holds_the_report(ready: Live) -> None:
    await script(ready, "+380501234560", reachable=True, deliver_after_ms=400)
    sent_at = time.monotonic()
    outcome = await ready.channel.send(outbound("+380501234560"))
    assert isinstance(outcome, Sent)  # the 202 does not wait for delivery
    await wait_for(lambda: bool(reports(ready.receiver, outcome.provider_id)))
    # held: it came no sooner than the scripted 400 ms after the send
    assert report_arrivals(ready.receiver, outcome.provider_id)[0] - sent_at >= 0.4
    assert (await ready.admin.delete("/_sim/script")).status_code == 204


# --- the request, as Vonage checks it ------------------------------------------------------------


async def test_promo_with_image_and_button(ready: Live, media: MediaHost) -> None:
    phone = "+380501234563"
    out = outbound(
        phone,
        message_type="promo",
        text="Spring sale: -30%",
        ttl_remaining_s=500_000,
        image_url=media.url("sale.jpg"),
        button_text="Shop now",
        button_url="https://shop.test/sale",
    )
    assert isinstance(await ready.channel.send(out), Sent)
    (received,) = (await ready.admin.get("/_sim/received", params={"phone": phone})).json()
    assert received["message_type"] == "image"
    assert received["text"] == "Spring sale: -30%"
    assert received["category"] == "promotion"
    assert received["ttl"] == 259_200
    assert received["image"] == media.url("sale.jpg")
    assert received["button"] == {"text": "Shop now", "url": "https://shop.test/sale"}


async def test_bad_credentials_are_misconfigured(ready: Live) -> None:
    wrong = Sender("acct-1", f"{API_KEY}:not-the-secret", SIGNATURE_SECRET)
    assert await ready.channel.send(outbound("+380501234563", sender=wrong)) == Misconfigured(
        "UNAUTHORIZED"
    )
    answer = await ready.admin.post("/v1/messages", json={})
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["title"] == "Unauthorized"


async def test_unknown_service_id_is_misconfigured(live: Live) -> None:
    other = ViberBusinessChannel(base_url=live.sim, service_id="99999")
    assert await other.send(outbound("+380501234563")) == Misconfigured("INVALID_SENDER")
    await other.aclose()


async def test_invalid_params_are_422(live: Live, media: MediaHost) -> None:
    def image(name: str) -> dict[str, Any]:
        return {"message_type": "image", "image": {"url": media.url(name)}}

    basic = "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    good = {
        "message_type": "text",
        "text": "hi",
        "to": "380501234563",
        "from": SERVICE_ID,
        "channel": "viber_service",
        "viber_service": {"category": "transaction", "ttl": 600},
    }
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"to": "+380501234563"}, "to", "#1150"),
        ({"text": "x" * 1001}, "text", "#1150"),
        ({"channel": "sms"}, "channel", "#1150"),
        ({"message_type": "audio"}, "message_type", "#1150"),
        ({"message_type": "video"}, "video", "#1150"),
        ({"viber_service": {"category": "spam", "ttl": 600}}, "viber_service.category", "#1150"),
        ({"viber_service": {"ttl": 29}}, "viber_service.ttl", "#1130"),
        ({"viber_service": {"ttl": 259_201}}, "viber_service.ttl", "#1130"),
        ({"viber_service": {"action": {"url": "https://x", "text": "y" * 31}}}, "text", "#1150"),
        ({"message_type": "image"}, "image", "#1150"),
        # media: each refused as Viber refuses it, the URL fetched from the local media host
        (image("gone.jpg"), "image.url", "#1150"),
        (image("invoice.pdf"), "image.url", "#1150"),
        ({"message_type": "image", "image": {"url": "ftp://x/y.jpg"}}, "image.url", "#1150"),
        (video(media.url("promo.mp4"), media.url("thumb.jpg"), duration="601"), *DURATION),
        (video(media.url("promo.mp4"), media.url("thumb.jpg"), duration="x"), *DURATION),
        (video(media.url("promo.mp4"), media.url("thumb.jpg"), file_size="201"), *SIZE),
        (video(media.url("promo.mp4"), media.url("thumb.jpg"), duration=None), *DURATION),
        (video(media.url("promo.mp4"), "https://t/" + "t" * 1000), "thumb_url", "#1150"),
        (video(media.url("promo.mp4"), None), "thumb_url", "#1150"),
        (video(media.url("promo.mp4"), media.url("gone.jpg")), "video.thumb_url", "#1150"),
        (video(f"{media.base}/no-length.mp4", media.url("thumb.jpg")), "video.url", "#1150"),
        (video(media.url("sale.jpg"), media.url("thumb.jpg")), "video.url", "#1150"),
        (document(media.url("tool.exe")), "file.name", "#1150"),
        (document(media.url("invoice.pdf"), "n" * 22 + ".pdf"), "name", "#1150"),
        (document(media.url("gone.jpg"), "invoice.pdf"), "file.url", "#1150"),
        # a text beside a file (or any medium) is refused, never dropped: Vonage's file
        # message has no caption, and `text` belongs to a text message
        ({**document(media.url("invoice.pdf")), "text": "Your invoice"}, "text", "#1150"),
        ({**image("sale.jpg"), "text": "Spring sale"}, "text", "#1150"),
        (
            {"message_type": "file", "file": {"url": media.url("invoice.pdf"), "caption": "x"}},
            "file.caption",
            "#1150",
        ),
    ]

    def body(change: dict[str, Any]) -> dict[str, Any]:
        """`good` changed; a medium without the text message's `text`, unless it adds one."""
        whole: dict[str, Any] = {**good, **change}
        if whole["message_type"] != "text" and "text" not in change:
            del whole["text"]
        return whole

    for change, name, code in cases:
        answer = await live.admin.post(
            "/v1/messages", json=body(change), headers={"Authorization": basic}
        )
        assert answer.status_code == 422, change
        problem = answer.json()
        assert problem["type"].endswith(code), change
        assert problem["invalid_parameters"][0]["name"] == name, change
    for fine in (
        {},
        image("sale.jpg"),
        video(media.url("promo.mp4"), media.url("thumb.jpg")),
        document(media.url("invoice.pdf")),
        document(media.url("report.xlsx"), "May report.xlsx"),
    ):
        answer = await live.admin.post(
            "/v1/messages", json=body(fine), headers={"Authorization": basic}
        )
        assert answer.status_code == 202, answer.text


DURATION = ("viber_service.duration", "#1150")
SIZE = ("viber_service.file_size", "#1150")


def video(
    url: str, thumb: str | None, *, duration: str | None = "30", file_size: str = "5"
) -> dict[str, Any]:
    """A Vonage video message's own fields (its `viber_service` whole, with the TTL)."""
    resource: dict[str, Any] = {"url": url, "caption": "Watch"}
    if thumb is not None:
        resource["thumb_url"] = thumb
    options: dict[str, Any] = {"category": "promotion", "ttl": 600, "file_size": file_size}
    if duration is not None:
        options["duration"] = duration
    return {"message_type": "video", "video": resource, "viber_service": options}


def document(url: str, name: str | None = None) -> dict[str, Any]:
    resource = {"url": url} if name is None else {"url": url, "name": name}
    return {"message_type": "file", "file": resource}


async def test_webhook_not_believed_is_refused_and_retried(live: Live) -> None:
    answer = await live.admin.post(
        "/_sim/webhook",
        json={"url": live.receiver.webhook(IMPOSTOR), "signature_secret": SIGNATURE_SECRET},
    )
    assert answer.status_code == 200
    outcome = await live.channel.send(outbound("+380501234563"))
    assert isinstance(outcome, Sent)
    await wait_for(lambda: len(live.receiver.callbacks()) >= 6)  # 2 statuses x 3 attempts
    assert {c.status for c in live.receiver.callbacks()} == {401}
    assert live.receiver.events() == []
    await wait_for(lambda: len(live.simulator.callbacks) == 2)
    assert [(c.status, c.http_status, c.attempts) for c in live.simulator.callbacks] == [
        ("submitted", 401, 3),
        ("delivered", 401, 3),
    ]


async def test_forged_webhook_is_refused(ready: Live) -> None:
    body = msgspec.json.encode(
        {
            "message_uuid": "forged",
            "status": "delivered",
            "timestamp": "2020-01-01T14:00:00.000Z",
            "channel": "viber_service",
        }
    )
    async with httpx.AsyncClient(timeout=5) as client:
        unsigned = await client.post(ready.receiver.webhook(SENDER), content=body)
        forged = await client.post(
            ready.receiver.webhook(SENDER), content=body, headers={"Authorization": "Bearer a.b.c"}
        )
    assert (unsigned.status_code, forged.status_code) == (401, 401)
    assert reports(ready.receiver, "forged") == []


async def test_admin_controls(live: Live) -> None:
    assert (await live.admin.put("/_sim/script/12345", json={})).status_code == 400
    bad = await live.admin.post("/_sim/webhook", json={"url": "ftp://x", "signature_secret": "s"})
    assert bad.status_code == 400
    unknown = await live.admin.post(
        "/_sim/webhook", json={"url": "http://x", "signature_secret": "s", "api_key": "nope"}
    )
    assert unknown.status_code == 404
    # no status URL yet: the message is taken, nothing is posted
    assert isinstance(await live.channel.send(outbound("+380501234563")), Sent)
    assert len((await live.admin.get("/_sim/received")).json()) == 1
    assert (await live.admin.delete("/_sim/received")).status_code == 204
    assert (await live.admin.get("/_sim/received")).json() == []


def test_rejection_codes() -> None:
    assert rejection_code(Behaviour()) == 1300  # not reachable: not a Viber user
    assert rejection_code(Behaviour(reachable=True)) is None
    assert rejection_code(Behaviour(reachable=True, registered=False)) == 1300
    assert rejection_code(Behaviour(reachable=True, blocked=True)) == 1240
    assert rejection_code(Behaviour(reachable=True, no_device=True)) == 1310
    assert rejection_code(Behaviour(reachable=True, fail=True, fail_reason="1999")) == 1999


async def test_short_ttl_is_not_sent(ready: Live) -> None:
    outcome = await ready.channel.send(outbound("+380501234563", ttl_remaining_s=10))
    assert outcome == Failed("TTL_TOO_SHORT")
    assert (await ready.admin.get("/_sim/received")).json() == []


async def test_unreachable_is_never_a_send_answer(ready: Live) -> None:
    # Vonage reports Viber's verdicts by webhook: the send itself is Sent, not Unreachable
    outcome = await ready.channel.send(outbound("+380501234567"))
    assert not isinstance(outcome, Unreachable)


async def test_video_and_file_go_out_and_are_fetched(ready: Live, media: MediaHost) -> None:
    """The real channel sends a video (thumbnail, size, duration) and a PDF; the simulator
    fetches each URL from the local media host before it takes the message."""
    clip = Media(
        MediaKind.VIDEO,
        media.url("promo.mp4"),
        thumbnail_url=media.url("thumb.jpg"),
        size_bytes=1_200,
        duration_s=12,
    )
    pdf = Media(MediaKind.FILE, media.url("invoice.pdf"), file_name="invoice", file_type="pdf")
    sent = {
        "+380501234563": Content(text="Watch", media=clip),
        "+380501234573": Content(media=pdf),
    }
    for phone, content in sent.items():
        await script(ready, phone, reachable=True)
        assert isinstance(await ready.channel.send(outbound(phone, content=content)), Sent)
    video, document = (await ready.admin.get("/_sim/received")).json()
    assert (video["message_type"], video["video"], video["thumbnail"]) == (
        "video",
        media.url("promo.mp4"),
        media.url("thumb.jpg"),
    )
    assert (video["duration_s"], video["file_size_mb"], video["text"]) == (12, 1, "Watch")
    assert (document["file"], document["file_name"]) == (media.url("invoice.pdf"), "invoice.pdf")
    assert set(ready.simulator.media.seen) == {
        media.url("promo.mp4"),
        media.url("thumb.jpg"),
        media.url("invoice.pdf"),
    }
    # a file with its text: the real channel sends the file, then the text; both taken
    phone = "+380501234583"
    await script(ready, phone, reachable=True)
    outcome = await ready.channel.send(
        outbound(phone, content=Content(text="Your invoice", media=pdf))
    )
    assert isinstance(outcome, Sent), outcome
    assert outcome.parts == 2
    file, text = (await ready.admin.get("/_sim/received", params={"phone": phone})).json()
    assert (file["message_type"], file["file"], file["text"]) == (
        "file",
        media.url("invoice.pdf"),
        None,
    )
    assert (text["message_type"], text["text"]) == ("text", "Your invoice")
    assert outcome.part_ids == (file["message_uuid"], text["message_uuid"])
    assert file["client_ref"] == text["client_ref"] == "att-" + phone
    gone = Content(media=Media(MediaKind.FILE, media.url("gone.pdf"), file_name="gone.pdf"))
    outcome = await ready.channel.send(outbound("+380501234563", content=gone))
    assert outcome == Failed("INVALID_PARAMS")


# --- a person answering --------------------------------------------------------------------------


async def test_a_person_answers_and_the_inbound_message_is_signed_like_a_status(
    ready: Live,
) -> None:
    phone = "+380501234563"
    outcome = await ready.channel.send(outbound(phone))
    assert isinstance(outcome, Sent)
    answer = await ready.admin.post(f"/_sim/users/{phone}/reply", params={"text": "Yes, please"})
    assert answer.status_code == 200, answer.text
    posted = answer.json()
    assert (posted["phone"], posted["to"], posted["text"], posted["http_status"]) == (
        phone,
        SERVICE_ID,
        "Yes, please",
        200,
    )
    [incoming] = [e for e in ready.receiver.events() if isinstance(e, InboundMessage)]
    assert (incoming.channel, incoming.phone, incoming.to, incoming.text) == (
        "viber_business",
        phone,
        SERVICE_ID,
        "Yes, please",
    )
    assert incoming.provider_id == posted["message_uuid"]
    assert abs(incoming.at_ms - time.time() * 1000) < 5000
    assert (await ready.admin.get("/_sim/inbound")).json() == [posted]


async def test_an_answer_goes_to_the_inbound_url_when_one_is_set(live: Live) -> None:
    answer = await live.admin.post(
        "/_sim/webhook",
        json={
            "url": live.receiver.webhook(IMPOSTOR),  # status webhooks: refused there
            "inbound_url": live.receiver.webhook(SENDER),
            "signature_secret": SIGNATURE_SECRET,
        },
    )
    assert answer.status_code == 200
    phone = "+380501234569"
    assert isinstance(await live.channel.send(outbound(phone)), Sent)
    posted = (await live.admin.post(f"/_sim/users/{phone}/reply", params={"text": "Thanks"})).json()
    assert (posted["http_status"], posted["attempts"]) == (200, 1)


async def test_an_answer_needs_a_message_to_answer_and_text(ready: Live) -> None:
    nobody = await ready.admin.post("/_sim/users/+380501234560/reply", params={"text": "Hi"})
    assert nobody.status_code == 404
    empty = await ready.admin.post("/_sim/users/+380501234563/reply")
    assert empty.status_code == 400
