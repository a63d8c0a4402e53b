"""Viber's own Business Messages API (surveys, carousels, OTP templates): the body the
channel sends for each content and each limit, what each `status` means, and the status
callbacks the webhook reads; table-driven, the request JSON asserted whole."""

from __future__ import annotations

import json
from typing import Any

import httpx
import msgspec
import pytest

from cascade.channels.base import Inbound
from cascade.channels.viber_business import handle_webhook
from cascade.channels.viber_business.partner import (
    build_send_message,
    carried_here,
    outcome_for_status,
    send_message,
    seq_for,
)
from cascade.domain.content import (
    Action,
    ActionKind,
    Button,
    Card,
    Content,
    Media,
    MediaKind,
    Template,
)
from cascade.domain.events import DeliveryReport
from cascade.domain.sending import (
    Failed,
    InDoubt,
    Misconfigured,
    Outcome,
    Retry,
    Sender,
    Sent,
    Unreachable,
)

ATTEMPT = "att-1"
SEQ = seq_for(ATTEMPT)
OTP = "0aac888f-2ee2-4112-9659-1755a951966a"


def link(text: str, url: str) -> Button:
    return Button(text, Action(ActionKind.OPEN_URL, url=url))


def card(title: str, *buttons: Button, image: str = "https://shop.test/a.jpg") -> Card:
    return Card(title=title, media=Media(MediaKind.IMAGE, image), buttons=buttons)


SHOES = card("Shoes", link("Buy", "https://shop.test/shoes"))
BAGS = card("Bags", link("Buy", "https://shop.test/bags"), link("Details", "https://shop.test/b"))


def common(kind: int, **fields: Any) -> dict[str, Any]:
    return {
        "service_id": 1234,
        "dest": "380501234563",
        "seq": SEQ,
        "label": "transaction",
        "ttl": 600,
        "type": kind,
        **fields,
    }


BODY_CASES: list[tuple[str, Content, dict[str, Any] | Failed]] = [
    (
        "survey",
        Content(text="How was it?", survey=("Good", "Bad")),
        common(
            801,
            message={"#txt": "How was it?", "#tracking_data": ATTEMPT},
            survey={"options": ["Good", "Bad"]},
        ),
    ),
    (
        "carousel, a secondary button on the second card",
        Content(text="New in", carousel=(SHOES, BAGS)),
        common(
            901,
            message={"#txt": "New in", "#tracking_data": ATTEMPT},
            carousel={
                "items": [
                    {
                        "title": "Shoes",
                        "imageUrl": "https://shop.test/a.jpg",
                        "primaryButton": {"label": "Buy", "actionUrl": "https://shop.test/shoes"},
                    },
                    {
                        "title": "Bags",
                        "imageUrl": "https://shop.test/a.jpg",
                        "primaryButton": {"label": "Buy", "actionUrl": "https://shop.test/bags"},
                        "secondaryButton": {"label": "Details", "actionUrl": "https://shop.test/b"},
                    },
                ]
            },
        ),
    ),
    (
        "OTP template",
        Content(template=Template(OTP, "en", {"pin": "4821"})),
        common(1702, templateId=OTP, templateLang="en", templateParams={"pin": "4821"}),
    ),
    # the limits: nothing is sent
    (
        "survey text over 85",
        Content(text="q" * 86, survey=("a", "b")),
        Failed("SURVEY_TEXT_TOO_LONG"),
    ),
    ("survey with one option", Content(text="q", survey=("a",)), Failed("SURVEY_OPTIONS")),
    ("survey option over 50", Content(text="q", survey=("a", "b" * 51)), Failed("SURVEY_OPTIONS")),
    ("carousel of one", Content(text="x", carousel=(SHOES,)), Failed("CAROUSEL_ITEMS")),
    ("carousel of six", Content(text="x", carousel=(SHOES,) * 6), Failed("CAROUSEL_ITEMS")),
    (
        "carousel title of one character",
        Content(text="x", carousel=(SHOES, card("S", link("Buy", "https://s")))),
        Failed("CAROUSEL_TITLE"),
    ),
    (
        "carousel primary label over 10",
        Content(text="x", carousel=(SHOES, card("Hats", link("Buy it right now", "https://s")))),
        Failed("CAROUSEL_BUTTON_LABEL"),
    ),
    (
        "carousel button without a URL",
        Content(
            text="x",
            carousel=(SHOES, card("Hats", Button("Call", Action(ActionKind.DIAL, phone="+1")))),
        ),
        Failed("CAROUSEL_BUTTON_WITHOUT_URL"),
    ),
    (
        "template without its pin",
        Content(template=Template(OTP, "en", {"code_reason": "login"})),
        Failed("TEMPLATE_WITHOUT_PIN"),
    ),
]


@pytest.mark.parametrize(
    ("content", "expected"), [c[1:] for c in BODY_CASES], ids=[c[0] for c in BODY_CASES]
)
def test_body(content: Content, expected: dict[str, Any] | Failed) -> None:
    assert carried_here(content)
    body = build_send_message(
        content,
        service_id=1234,
        dest="380501234563",
        attempt_id=ATTEMPT,
        label="transaction",
        ttl=600,
    )
    if isinstance(expected, Failed):
        assert body == expected
    else:
        assert json.loads(msgspec.json.encode(body)) == expected


def test_text_image_video_file_stay_with_vonage() -> None:
    assert not carried_here(Content(text="hi", media=Media(MediaKind.VIDEO, "https://v")))


def test_seq_is_the_same_on_every_try_and_differs_between_attempts() -> None:
    assert seq_for("att-1") == seq_for("att-1") != seq_for("att-2")
    assert 0 < seq_for("att-1") < 2**48


STATUS_CASES: list[tuple[int, int | str | None, Outcome]] = [
    (0, 5379697806260881548, Sent("5379697806260881548")),
    (0, None, InDoubt("BAD_RESPONSE")),
    (1, None, Retry("INTERNAL_FAILURE")),
    (2, None, Misconfigured("BAD_SERVICE_ID")),
    (3, None, Failed("BAD_DATA")),
    (7, None, Retry("TIMEOUT")),
    (8, None, Unreachable("BLOCKED", blocked=True)),
    (9, None, Unreachable("NOT_VIBER_USER")),
    (10, None, Unreachable("NO_SUITABLE_DEVICE")),
    (11, None, Misconfigured("UNAUTHORIZED_IP")),
    (20, None, Failed("INVALID_TTL")),
    (38, None, Failed("TEMPLATE_NOT_FOUND")),
    (39, None, Failed("TEMPLATE_VALIDATION_ERROR")),
    (40, None, Failed("SURVEY_VALIDATION_ERROR")),
    (41, None, Failed("CAROUSEL_VALIDATION_ERROR")),
    (99, None, Failed("VIBER_99")),
]


@pytest.mark.parametrize(("status", "token", "outcome"), STATUS_CASES)
def test_status(status: int, token: int | str | None, outcome: Outcome) -> None:
    assert outcome_for_status(status, token) == outcome


ANSWERS: list[tuple[str, httpx.Response | Exception, Outcome]] = [
    (
        "accepted",
        httpx.Response(200, json={"status": 0, "seq": 1, "message_token": 77}),
        Sent("77"),
    ),
    (
        "refused in the body",
        httpx.Response(200, json={"status": 9, "seq": 1}),
        Unreachable("NOT_VIBER_USER"),
    ),
    ("not JSON", httpx.Response(200, text="<html>"), InDoubt("BAD_RESPONSE")),
    ("404: not Viber", httpx.Response(404), Misconfigured("HTTP_404")),
    ("503", httpx.Response(503), Retry("HTTP_503")),
    ("no connection", httpx.ConnectError("refused"), Retry("NETWORK:ConnectError")),
]


@pytest.mark.parametrize(
    ("answer", "outcome"), [a[1:] for a in ANSWERS], ids=[a[0] for a in ANSWERS]
)
async def test_send_message(answer: httpx.Response | Exception, outcome: Outcome) -> None:
    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    body = build_send_message(
        Content(text="How was it?", survey=("Good", "Bad")),
        service_id=1234,
        dest="380501234563",
        attempt_id=ATTEMPT,
        label="transaction",
        ttl=600,
    )
    assert not isinstance(body, Failed)
    async with httpx.AsyncClient(transport=httpx.MockTransport(reply)) as client:
        assert await send_message(client, "https://viber.test/", body, ATTEMPT) == outcome
    (request,) = seen
    assert request.url == "https://viber.test/vibersrvc/1/send_message"
    assert json.loads(request.content)["type"] == 801


SENDER = Sender("acct-1", "k:s", "signature-secret")


@pytest.mark.parametrize(
    ("status", "state", "reason"),
    [(0, "delivered", None), (1, "read", None), (2, "failed", "EXPIRED")],
)
async def test_callback_becomes_a_report(status: int, state: str, reason: str | None) -> None:
    body = {"message_token": 5379697806260881548, "message_status": status, "message_time": 17}
    reply = await handle_webhook(Inbound(SENDER, {}, json.dumps(body).encode()))
    assert reply.status == 200
    assert reply.events == (
        DeliveryReport("viber_business", "5379697806260881548", state, 17, reason),  # type: ignore[arg-type]
    )


async def test_a_vonage_shaped_body_without_its_token_is_refused() -> None:
    body = {"message_uuid": "u", "status": "delivered", "timestamp": "2020-01-01T00:00:00Z"}
    reply = await handle_webhook(Inbound(SENDER, {}, json.dumps(body).encode()))
    assert reply.status == 401
    assert reply.events == ()


async def test_the_channel_sends_a_survey_to_viber_and_a_text_to_vonage() -> None:
    """Which API carries what is chosen by content: a survey goes to Viber's own API (no
    credential travels), a text to Vonage."""
    from cascade.channels.viber_business import ViberBusinessChannel
    from tests.outbound import outbound_to

    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/vibersrvc/1/send_message":
            return httpx.Response(200, json={"status": 0, "seq": SEQ, "message_token": 9})
        return httpx.Response(202, json={"message_uuid": "u-1"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(reply)) as client:
        channel = ViberBusinessChannel(
            "https://vonage.test",
            "key",
            "secret",
            "svc",
            client=client,
            partner_url="https://viber.test",
            partner_service_id=1234,
        )
        survey = Content(text="How was it?", survey=("Good", "Bad"))
        out = outbound_to("+380501234563", SENDER, content=survey, ttl_remaining_s=600)
        assert await channel.send(out) == Sent("9")
        assert await channel.send(outbound_to("+380501234563", SENDER)) == Sent("u-1")
    to_viber, to_vonage = seen
    assert str(to_viber.url) == "https://viber.test/vibersrvc/1/send_message"
    assert "authorization" not in to_viber.headers
    assert json.loads(to_viber.content) == common(
        801,
        message={"#txt": "How was it?", "#tracking_data": ATTEMPT},
        survey={"options": ["Good", "Bad"]},
    )
    assert str(to_vonage.url) == "https://vonage.test/v1/messages"
