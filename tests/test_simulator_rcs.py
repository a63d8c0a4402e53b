"""The RBM simulator on a real loopback port, driven by the real `RcsChannel`.

Two servers run in background threads: the simulator (RBM's API and the OAuth token
endpoint), and a small receiving app that serves the channel's own webhook handler, so
every event the simulator pushes must carry a valid signature to produce events. The
channel gets its tokens through google-auth's real JWT bearer grant, signed with an RSA
key generated for the test and registered with the simulator. Loopback only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from cascade.channels.rcs import RcsChannel, ServiceAccountTokens, handle_webhook
from cascade.domain.content import Action, ActionKind, Button, Card, Content, Media, MediaKind
from cascade.domain.events import SurveyAnswer
from cascade.domain.sending import (
    Failed,
    Misconfigured,
    Outbound,
    Sender,
    Sent,
    Throttled,
    Unreachable,
)
from cascade.simulators.rcs import RcsSimulator, create_app, new_service_account
from tests import live_simulator
from tests.live_simulator import script, serving, wait_for
from tests.media_server import MediaHost, media_server
from tests.outbound import outbound_to
from tests.receiver import Receiver, reports

AGENT = "cascade_sim_agent"
CLIENT_TOKEN = "SJENCPGJESMGUFPY"
SENDER = Sender(id="rcs-1", token="", webhook_secret=CLIENT_TOKEN)
IMPOSTOR = Sender(id="rcs-2", token="", webhook_secret="A-TOKEN-GOOGLE-DOES-NOT-USE")
ACCOUNT = "cascade@rbm-sim.iam.gserviceaccount.com"
CAPABLE = "+380501234564"  # persona 4: RCS-capable Android
PLAIN = "+380501234566"  # persona 6: a plain phone

pytestmark = pytest.mark.live


# --- servers in threads ----------------------------------------------------------------------


@dataclass
class Live(live_simulator.Live[RcsSimulator, RcsChannel]):
    key: dict[str, str]  # the service account's key, as the channel's token source has it


@pytest.fixture(scope="module")
def media() -> Iterator[MediaHost]:
    with media_server() as host:
        yield host


@pytest.fixture(scope="module")
def service_account() -> tuple[dict[str, str], str]:
    return new_service_account(ACCOUNT)


def make_channel(sim_url: str, key: dict[str, str]) -> tuple[RcsChannel, ServiceAccountTokens]:
    tokens = ServiceAccountTokens.from_info(key, token_uri=f"{sim_url}/token")
    return RcsChannel(f"{sim_url}/v1", agent_id=AGENT, tokens=tokens), tokens


@pytest.fixture
async def live(service_account: tuple[dict[str, str], str]) -> AsyncIterator[Live]:
    key, public_key = service_account
    receiver = Receiver("rcs", handle_webhook, (SENDER, IMPOSTOR))
    simulator = RcsSimulator(callback_backoff_s=0.05)
    app = create_app(simulator, agents=(AGENT,), service_accounts={ACCOUNT: public_key})
    with serving(app, receiver) as sim_url:
        channel, tokens = make_channel(sim_url, key)
        async with httpx.AsyncClient(base_url=sim_url, timeout=5) as admin:
            yield Live(sim_url, simulator, receiver, admin, channel, key)
        await channel.aclose()
        tokens.close()


@pytest.fixture
async def ready(live: Live) -> Live:
    """The agent webhook is set up to the receiver, with the handshake Google does."""
    setup = {"url": live.receiver.webhook(SENDER), "clientToken": CLIENT_TOKEN}
    answer = await live.admin.post("/_sim/webhook", json=setup)
    assert answer.json() == {"verified": True, "status": 200}
    return live


def outbound(phone: str, **overrides: Any) -> Outbound:
    ids = {"attempt_id": str(uuid.uuid4()), "message_id": str(uuid.uuid4())}
    return outbound_to(phone, SENDER, **{**ids, **overrides})


async def calls(live: Live) -> list[tuple[str, str, int]]:
    return [
        (c["method"], c["path"], c["status"]) for c in (await live.admin.get("/_sim/calls")).json()
    ]


# --- the webhook handshake ----------------------------------------------------------------------


async def test_handshake_with_the_wrong_client_token_fails(live: Live) -> None:
    setup = {"url": live.receiver.webhook(IMPOSTOR), "clientToken": CLIENT_TOKEN}
    answer = await live.admin.post("/_sim/webhook", json=setup)
    assert answer.json() == {"verified": False, "status": 401}
    assert live.simulator.webhook is None


# --- sending --------------------------------------------------------------------------------------


async def test_capable_phone_is_sent_then_delivered(ready: Live) -> None:
    out = outbound(CAPABLE)
    assert await ready.channel.send(out) == Sent(out.attempt_id)
    await wait_for(lambda: bool(reports(ready.receiver, out.attempt_id)))
    (report,) = reports(ready.receiver, out.attempt_id)
    assert report.state == "delivered"
    assert abs(report.at_ms - time.time() * 1000) < 5000
    assert set(ready.receiver.statuses()) == {200}

    (received,) = (await ready.admin.get("/_sim/received", params={"phone": CAPABLE})).json()
    assert received["message_id"] == out.attempt_id
    assert received["agent_id"] == AGENT
    assert received["state"] == "delivered"
    assert received["body"]["contentMessage"] == {"text": "Your order #12345 has been confirmed"}
    assert received["body"]["messageTrafficType"] == "TRANSACTION"
    expires_in = received["expire_at_ms"] - received["at_ms"]
    assert 3_595_000 < expires_in <= 3_600_000
    assert [(m, s) for m, _, s in await calls(ready)] == [("GET", 200), ("POST", 200)]


async def test_incapable_phone_is_skipped_without_a_message(ready: Live) -> None:
    assert await ready.channel.send(outbound(PLAIN)) == Unreachable("NO_RCS")
    assert await ready.channel.send(outbound(PLAIN)) == Unreachable("NO_RCS")  # cached
    assert await calls(ready) == [("GET", f"/v1/phones/{PLAIN}/capabilities", 404)]
    assert (await ready.admin.get("/_sim/received")).json() == []


async def test_repeated_message_id_is_refused_and_counts_as_sent(ready: Live) -> None:
    out = outbound(CAPABLE)
    assert await ready.channel.send(out) == Sent(out.attempt_id)
    assert await ready.channel.send(out) == Sent(out.attempt_id)
    statuses = [s for m, _, s in await calls(ready) if m == "POST"]
    assert statuses == [200, 409]
    assert len((await ready.admin.get("/_sim/received")).json()) == 1


async def test_read_follows_delivered(ready: Live) -> None:
    await script(ready, CAPABLE, reachable=True, deliver_after_ms=20, read_after_ms=60)
    out = outbound(CAPABLE)
    await ready.channel.send(out)
    await wait_for(lambda: len(reports(ready.receiver, out.attempt_id)) == 2)
    delivered, read = reports(ready.receiver, out.attempt_id)
    assert (delivered.state, read.state) == ("delivered", "read")


async def test_scripted_throttle(ready: Live) -> None:
    await script(ready, CAPABLE, reachable=True, throttle=True)
    outcome = await ready.channel.send(outbound(CAPABLE))
    assert outcome == Throttled(1.0, "RESOURCE_EXHAUSTED")


# --- revoking ---------------------------------------------------------------------------------


async def test_undelivered_message_is_revoked(ready: Live) -> None:
    await script(ready, CAPABLE, reachable=True, deliver_after_ms=None)  # never comes online
    out = outbound(CAPABLE)
    assert await ready.channel.send(out) == Sent(out.attempt_id)
    assert await ready.channel.revoke_message(CAPABLE, out.attempt_id) == "revoked"
    (received,) = (await ready.admin.get("/_sim/received")).json()
    assert received["state"] == "revoked"
    # already withdrawn: RBM answers 404, which the channel reads as "delivered meanwhile"
    assert await ready.channel.revoke_message(CAPABLE, out.attempt_id) == "delivered"
    await ready.channel.revoke(SENDER, CAPABLE, out.attempt_id)  # the engine's call: no raise


async def test_delivered_message_cannot_be_revoked(ready: Live) -> None:
    out = outbound(CAPABLE)
    await ready.channel.send(out)
    await wait_for(lambda: bool(reports(ready.receiver, out.attempt_id)))
    assert await ready.channel.revoke_message(CAPABLE, out.attempt_id) == "delivered"


async def test_revoked_message_is_never_delivered(ready: Live) -> None:
    await script(ready, CAPABLE, reachable=True, deliver_after_ms=300)
    out = outbound(CAPABLE)
    await ready.channel.send(out)
    assert await ready.channel.revoke_message(CAPABLE, out.attempt_id) == "revoked"
    # the simulator is done with the message: its delivery time came and went
    await wait_for(ready.simulator.idle)
    assert reports(ready.receiver, out.attempt_id) == []


async def test_message_expires_undelivered(ready: Live) -> None:
    await script(ready, CAPABLE, reachable=True, deliver_after_ms=None)
    out = outbound(CAPABLE, ttl_remaining_s=1)
    await ready.channel.send(out)
    await wait_for(lambda: bool(reports(ready.receiver, out.attempt_id)))
    (report,) = reports(ready.receiver, out.attempt_id)
    assert (report.state, report.reason) == ("failed", "TTL_EXPIRATION_REVOKED")


# --- content ------------------------------------------------------------------------------------


async def test_survey_and_its_answer(ready: Live) -> None:
    out = outbound(
        CAPABLE,
        message_type="viber_survey",
        text="How was your delivery?",
        survey_options=("Good", "Bad", "Very good, would come back soon"),
    )
    assert await ready.channel.send(out) == Sent(out.attempt_id)
    (received,) = (await ready.admin.get("/_sim/received")).json()
    chips = [s["reply"]["text"] for s in received["body"]["contentMessage"]["suggestions"]]
    assert chips == ["Good", "Bad", "Very good, would come ba…"]

    tapped = await ready.admin.post(
        f"/_sim/users/{CAPABLE}/reply", params={"text": "Very good, would come back soon"}
    )
    assert tapped.json() == {"kind": "suggestionResponse", "webhook_status": 200}
    typed = await ready.admin.post(f"/_sim/users/{CAPABLE}/reply", params={"text": "meh"})
    assert typed.json() == {"kind": "text", "webhook_status": 200}
    answers = [e for e in ready.receiver.events() if isinstance(e, SurveyAnswer)]
    assert [(a.answer, a.message_id, a.address, a.sender_id) for a in answers] == [
        ("Very good, would come back soon", out.message_id, CAPABLE, "rcs-1"),
        ("meh", None, CAPABLE, "rcs-1"),
    ]


async def test_promo_is_a_rich_card_rbm_accepts(ready: Live, media: MediaHost) -> None:
    out = outbound(
        CAPABLE,
        message_type="promo",
        text="Spring sale: -20% on everything",
        image_url=media.url("sale.jpg"),
        button_text="Shop now",
        button_url="https://shop.test/sale",
    )
    assert await ready.channel.send(out) == Sent(out.attempt_id)
    (received,) = (await ready.admin.get("/_sim/received")).json()
    card = received["body"]["contentMessage"]["richCard"]["standaloneCard"]["cardContent"]
    assert card["media"]["contentInfo"]["fileUrl"] == media.url("sale.jpg")
    assert card["suggestions"][0]["action"]["openUrlAction"] == {"url": "https://shop.test/sale"}
    assert received["body"]["messageTrafficType"] == "PROMOTION"
    assert media.url("sale.jpg") in ready.simulator.media.seen  # RBM fetched it


def _rich_contents(media: MediaHost) -> list[Content]:
    def still(name: str, height: str | None = None, width: str | None = None) -> Media:
        return Media(MediaKind.IMAGE, media.url(name), height=height, width=width)

    open_url = Button("Shop now", Action(ActionKind.OPEN_URL, url="https://shop.test/sale"))
    call = Button("Call us", Action(ActionKind.DIAL, phone="+380441234567"))
    where = Button("Share location", Action(ActionKind.SHARE_LOCATION))
    event = Button(
        "Add to calendar",
        Action(
            ActionKind.CREATE_CALENDAR_EVENT,
            title="Spring sale",
            description="All day",
            start="2026-03-01T10:00:00+02:00",
            end="2026-03-01T18:00:00+02:00",
        ),
    )
    video = Media(
        MediaKind.VIDEO, media.url("promo.mp4"), thumbnail_url=media.url("thumb.jpg"), height="TALL"
    )
    return [
        Content(
            text="Pick one",
            suggestions=(Button("Yes", Action(ActionKind.REPLY)), open_url, call, where, event),
        ),
        Content(
            text="Spring sale",
            media=Media(
                MediaKind.IMAGE, media.url("card.png"), thumbnail_url=media.url("thumb.jpg")
            ),
            buttons=(open_url, event),
        ),
        Content(text="Watch", media=video, suggestions=(call,)),
        Content(
            text="New in",
            carousel=(
                Card("Shoes", "Leather", still("card.png", "SHORT", "SMALL"), (open_url,)),
                Card("Bags", None, still("sale.jpg", "MEDIUM", "SMALL"), (call, where)),
                Card("Hats", "Wool", None, (event,)),
            ),
            suggestions=(Button("More", Action(ActionKind.REPLY)),),
        ),
    ]


async def test_rich_content_of_each_kind_is_taken_and_its_media_fetched(
    ready: Live, media: MediaHost
) -> None:
    """The real channel's bodies against the simulator's own checks; every file fetched
    from the loopback media host."""
    contents = _rich_contents(media)
    for content in contents:
        out = outbound(CAPABLE, content=content)
        assert await ready.channel.send(out) == Sent(out.attempt_id), content
    received = (await ready.admin.get("/_sim/received")).json()
    shown = [r["body"]["contentMessage"] for r in received]
    assert [next(k for k in ("text", "richCard") if k in m) for m in shown] == [
        "text",
        "richCard",
        "richCard",
        "richCard",
    ]
    assert [len(m.get("suggestions", [])) for m in shown] == [5, 0, 1, 1]
    assert shown[3]["richCard"]["carouselCard"]["cardWidth"] == "SMALL"
    fetched = set(ready.simulator.media.seen)
    names = ("card.png", "sale.jpg", "thumb.jpg", "promo.mp4")
    assert fetched == {media.url(n) for n in names}


async def test_a_tapped_suggested_reply_is_the_answer(ready: Live) -> None:
    content = Content(text="Coming?", suggestions=(Button("Yes", Action(ActionKind.REPLY)),))
    out = outbound(CAPABLE, content=content)
    assert await ready.channel.send(out) == Sent(out.attempt_id)
    tapped = await ready.admin.post(f"/_sim/users/{CAPABLE}/reply", params={"text": "Yes"})
    assert tapped.json() == {"kind": "suggestionResponse", "webhook_status": 200}
    (answer,) = [e for e in ready.receiver.events() if isinstance(e, SurveyAnswer)]
    assert (answer.answer, answer.message_id) == ("Yes", out.message_id)


async def test_media_rbm_cannot_fetch_fails_the_send(ready: Live, media: MediaHost) -> None:
    content = Content(text="Sale", media=Media(MediaKind.IMAGE, media.url("gone.jpg")))
    outcome = await ready.channel.send(outbound(CAPABLE, content=content))
    assert outcome == Failed("INVALID_ARGUMENT")
    assert [s for m, _, s in await calls(ready) if m == "POST"] == [400]
    assert (await ready.admin.get("/_sim/received")).json() == []


# --- authentication -------------------------------------------------------------------------------


async def test_api_requires_a_bearer_token(live: Live) -> None:
    path = f"/v1/phones/{CAPABLE}/capabilities"
    params = {"requestId": "r1", "agentId": AGENT}
    bare = await live.admin.get(path, params=params)
    forged = await live.admin.get(path, params=params, headers={"Authorization": "Bearer ya29.x"})
    for answer in (bare, forged):
        assert answer.status_code == 401
        assert answer.json()["error"]["status"] == "UNAUTHENTICATED"


async def test_an_unregistered_key_gets_no_token(live: Live) -> None:
    stranger, _ = new_service_account("stranger@elsewhere.iam.gserviceaccount.com")
    channel, tokens = make_channel(live.sim, stranger)
    assert await channel.send(outbound(CAPABLE)) == Misconfigured("TOKEN_INVALID_GRANT")
    await channel.aclose()
    tokens.close()


async def test_a_key_signed_by_someone_else_gets_no_token(live: Live) -> None:
    forged, _ = new_service_account(ACCOUNT)  # the right name, another key
    channel, tokens = make_channel(live.sim, forged)
    assert await channel.send(outbound(CAPABLE)) == Misconfigured("TOKEN_INVALID_GRANT")
    await channel.aclose()
    tokens.close()


async def test_another_agent_is_refused(live: Live) -> None:
    tokens = ServiceAccountTokens.from_info(live.key, token_uri=f"{live.sim}/token")
    channel = RcsChannel(f"{live.sim}/v1", agent_id="not_our_agent", tokens=tokens)
    assert await channel.send(outbound(CAPABLE)) == Misconfigured("PERMISSION_DENIED")
    await channel.aclose()
    tokens.close()


async def test_token_endpoint_checks_the_grant(live: Live) -> None:
    wrong_grant = await live.admin.post("/token", data={"grant_type": "password"})
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (
        400,
        "unsupported_grant_type",
    )
    garbage = await live.admin.post(
        "/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "a.b.c"},
    )
    assert (garbage.status_code, garbage.json()["error"]) == (400, "invalid_grant")


# --- the simulator's own checks ------------------------------------------------------------------


async def test_rbm_refuses_what_it_would_refuse(ready: Live) -> None:
    tokens = ServiceAccountTokens.from_info(ready.key, token_uri=f"{ready.sim}/token")
    headers = {"Authorization": f"Bearer {await tokens.token()}"}
    tokens.close()
    path = f"/v1/phones/{CAPABLE}/agentMessages"

    async def create(body: Any, message_id: str | None = None) -> int:
        params = {"agentId": AGENT, "messageId": message_id or str(uuid.uuid4())}
        answer = await ready.admin.post(path, params=params, json=body, headers=headers)
        return answer.status_code

    text = {"contentMessage": {"text": "hi"}}
    assert await create(text) == 200
    assert await create(text, message_id="not-a-uuid") == 400
    assert await create({"contentMessage": {"text": "x" * 3073}}) == 400
    assert await create({"contentMessage": {"text": "hi", "richCard": {}}}) == 400
    assert await create({"contentMessage": {}}) == 400
    assert await create({**text, "expireTime": "2030-01-01T00:00:00Z", "ttl": "10s"}) == 400
    assert await create({**text, "expireTime": "tomorrow"}) == 400
    many = [{"reply": {"text": f"o{n}", "postbackData": "p"}} for n in range(12)]
    assert await create({"contentMessage": {"text": "hi", "suggestions": many}}) == 400
    long_chip = [{"reply": {"text": "x" * 26, "postbackData": "p"}}]
    assert await create({"contentMessage": {"text": "hi", "suggestions": long_chip}}) == 400
    assert await create({**text, "ttl": "10s"}) == 200


def _card(**content: Any) -> dict[str, Any]:
    return {"title": "Shoes", **content}


def _carousel(*cards: dict[str, Any], width: str = "MEDIUM") -> dict[str, Any]:
    carousel = {"cardWidth": width, "cardContents": list(cards)}
    return {"contentMessage": {"richCard": {"carouselCard": carousel}}}


def _standalone(**content: Any) -> dict[str, Any]:
    card = {"cardOrientation": "VERTICAL", "cardContent": {"description": "Sale", **content}}
    return {"contentMessage": {"richCard": {"standaloneCard": card}}}


def _chip(**action: Any) -> dict[str, Any]:
    return {"contentMessage": {"text": "hi", "suggestions": [
        {"action": {"text": "Go", "postbackData": "p", **action}}]}}  # fmt: skip


def _media(url: str, height: str | None = "MEDIUM", **info: str) -> dict[str, Any]:
    media: dict[str, Any] = {"contentInfo": {"fileUrl": url, **info}}
    if height is not None:
        media["height"] = height
    return media


EVENT = {"title": "Sale", "startTime": "2026-03-01T10:00:00Z", "endTime": "2026-03-01T11:00:00Z"}


def _rich_refusals(media: MediaHost) -> list[tuple[str, dict[str, Any], str]]:
    """(what, the body, the start of RBM's message) for each rich body RBM refuses."""
    image, pdf = media.url("card.png"), media.url("invoice.pdf")
    reply = {"reply": {"text": "ok", "postbackData": "p"}}
    return [
        ("a carousel of one", _carousel(_card()), "a carousel has 2 to 10 cards"),
        ("a carousel of eleven", _carousel(*[_card()] * 11), "a carousel has 2 to 10 cards"),
        ("a width RBM lacks", _carousel(_card(), _card(), width="LARGE"), "carouselCard.cardWidth"),
        ("TALL in SMALL", _carousel(_card(), _card(media=_media(image, "TALL")), width="SMALL"),
         "carouselCard.cardContents[1].media.height: TALL"),
        ("a title of 201", _carousel(_card(), _card(title="T" * 201)),
         "carouselCard.cardContents[1].title"),
        ("a description of 2001", _standalone(description="d" * 2001), "cardContent.description"),
        ("an empty card", _carousel(_card(), {"suggestions": [reply]}),
         "carouselCard.cardContents[1] has a title"),
        ("five card suggestions", _standalone(suggestions=[reply] * 5), "at most 4 suggestions"),
        ("media without a height", _standalone(media=_media(image, None)),
         "cardContent.media.height is required"),
        ("a height RBM lacks", _standalone(media=_media(image, "HUGE")),
         "cardContent.media.height"),
        ("a file not on http(s)", _standalone(media=_media("ftp://x/a.png")), "cardContent.media"),
        ("a postback of 2049", {"contentMessage": {"text": "hi", "suggestions": [
            {"reply": {"text": "ok", "postbackData": "p" * 2049}}]}}, "postbackData"),
        ("an action of none", _chip(), "an action is exactly one of"),
        ("two actions", _chip(dialAction={"phoneNumber": "+380441234567"}, shareLocationAction={}),
         "an action is exactly one of"),
        ("a dial without a phone", _chip(dialAction={}), "dialAction.phoneNumber"),
        ("an open-URL without a URL", _chip(openUrlAction={"url": "x"}), "openUrlAction.url"),
        ("a location to view of nowhere", _chip(viewLocationAction={}), "viewLocationAction"),
        ("an event without its end", _chip(createCalendarEventAction={**EVENT, "endTime": None}),
         "createCalendarEventAction.startTime and endTime"),
        ("an event ending first", _chip(createCalendarEventAction={
            **EVENT, "endTime": "2026-03-01T09:00:00Z"}), "createCalendarEventAction.endTime"),
        ("an event title of 101", _chip(createCalendarEventAction={**EVENT, "title": "T" * 101}),
         "createCalendarEventAction.title"),
        ("a file not there", _standalone(media=_media(media.url("gone.jpg"))),
         "standaloneCard.cardContent.media.contentInfo.fileUrl: the media URL answered HTTP 404"),
        ("a PDF as card media", _standalone(media=_media(pdf)),
         "standaloneCard.cardContent.media.contentInfo.fileUrl: application/pdf is not a type"),
        ("a video as a thumbnail", _standalone(
            media=_media(image, thumbnailUrl=media.url("promo.mp4"))),
         "standaloneCard.cardContent.media.contentInfo.thumbnailUrl: video/mp4 is not a type"),
    ]  # fmt: skip


async def test_rbm_refuses_rich_content_it_would_refuse(ready: Live, media: MediaHost) -> None:
    tokens = ServiceAccountTokens.from_info(ready.key, token_uri=f"{ready.sim}/token")
    headers = {"Authorization": f"Bearer {await tokens.token()}"}
    tokens.close()
    path = f"/v1/phones/{CAPABLE}/agentMessages"

    async def create(body: Any) -> httpx.Response:
        params = {"agentId": AGENT, "messageId": str(uuid.uuid4())}
        return await ready.admin.post(path, params=params, json=body, headers=headers)

    for what, body, message in _rich_refusals(media):
        answer = await create(body)
        assert answer.status_code == 400, what
        error = answer.json()["error"]
        assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT"), what
        assert error["message"].startswith(message), (what, error["message"])
        assert set(answer.json()) == {"error"}
        assert set(error) == {"code", "message", "status"}
    assert (await ready.admin.get("/_sim/received")).json() == []
    fine = [
        _carousel(_card(media=_media(media.url("card.png"), "SHORT")), _card(), width="SMALL"),
        _standalone(media=_media(media.url("promo.mp4"), thumbnailUrl=media.url("thumb.jpg"))),
        _chip(viewLocationAction={"query": "Kyiv, Khreshchatyk 1"}),
        _chip(createCalendarEventAction=EVENT),
    ]
    for body in fine:
        answer = await create(body)
        assert answer.status_code == 200, answer.text


async def test_admin_rejects_bad_input(live: Live) -> None:
    assert (await live.admin.post(f"/_sim/users/{CAPABLE}/reply?text=hi")).status_code == 409
    assert (await live.admin.put("/_sim/script/12345", json={})).status_code == 400
    bad_url = {"url": "ftp://x", "clientToken": CLIENT_TOKEN}
    assert (await live.admin.post("/_sim/webhook", json=bad_url)).status_code == 400
    assert (await live.admin.delete("/_sim/script")).status_code == 204
    assert (await live.admin.delete("/_sim/received")).status_code == 204
