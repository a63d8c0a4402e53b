"""Viber's partner API simulator (surveys, carousels, OTP templates) on a real loopback
port: each refusal as Viber answers it, and the channel's own client path against it, with
carousel images fetched from a local media server and the status callbacks read by the
channel's own webhook handler."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from cascade.channels.viber_business import handle_webhook
from cascade.channels.viber_business.partner import build_send_message, send_message
from cascade.domain.content import Action, ActionKind, Button, Card, Content, Media, MediaKind
from cascade.domain.content import Template as OtpTemplate
from cascade.domain.sending import Failed, Sender, Sent, Unreachable
from cascade.simulators.viber_business import PartnerSimulator, VonageSimulator, create_app
from tests import live_simulator
from tests.live_simulator import live_on, script, wait_for
from tests.media_server import MediaHost, media_server
from tests.receiver import Receiver, json_field, reports

pytestmark = pytest.mark.live

SERVICE_ID = 1234
SENDER = Sender("acct-1", "k:s", "signature-secret")
OTP = "0aac888f-2ee2-4112-9659-1755a951966a"
RICH_OTP = "2c017482-5c0c-4c1e-9b1f-8f0b56a7c1d2"
Live = live_simulator.Live[PartnerSimulator, httpx.AsyncClient]


@pytest.fixture(scope="module")
def media() -> Iterator[MediaHost]:
    with media_server() as host:
        yield host


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    receiver = Receiver("viber_business", handle_webhook, (SENDER,), json_field("message_status"))
    partner = PartnerSimulator(service_ids=frozenset({SERVICE_ID}), callback_backoff_s=0.05)
    app = create_app(VonageSimulator(scripts=partner.scripts), partner=partner)
    async with live_on(app, partner, receiver, lambda _: httpx.AsyncClient(timeout=10)) as live:
        answer = await live.admin.post(
            "/_sim/partner/webhook", json={"url": receiver.webhook(SENDER)}
        )
        assert answer.status_code == 200
        yield live


def item(
    media: MediaHost, title: str = "Shoes", image: str = "card.png", **extra: Any
) -> dict[str, Any]:
    return {
        "title": title,
        "imageUrl": media.url(image),
        "primaryButton": {"label": "Buy", "actionUrl": "https://shop.test/buy"},
        **extra,
    }


def survey(**change: Any) -> dict[str, Any]:
    return {
        "service_id": SERVICE_ID,
        "dest": "380501234563",
        "seq": 1,
        "label": "transaction",
        "ttl": 600,
        "type": 801,
        "message": {"#txt": "How was it?", "#tracking_data": "t"},
        "survey": {"options": ["Good", "Bad"]},
        **change,
    }


def carousel(media: MediaHost, *items: dict[str, Any], **change: Any) -> dict[str, Any]:
    return survey(
        type=901,
        message={"#txt": "New in", "#tracking_data": "t"},
        survey=None,
        carousel={"items": list(items) or [item(media), item(media, "Bags")]},
        **change,
    )


def template(**change: Any) -> dict[str, Any]:
    body = survey(type=1702, templateId=OTP, templateLang="en", templateParams={"pin": "4821"})
    del body["message"], body["survey"]
    return {**body, **change}


async def test_each_refusal_has_viber_status(live: Live, media: MediaHost) -> None:
    await script(live, "+380501234563", reachable=True)
    cases: list[tuple[str, dict[str, Any], int]] = [
        ("unknown service id", survey(service_id=9), 2),
        ("seq missing", survey(seq="1"), 6),
        ("dest with +", survey(dest="+380501234563"), 27),
        ("unknown type", survey(type=5), 5),
        ("no label", survey(label="news"), 18),
        ("ttl too short", survey(ttl=29), 20),
        ("ttl too long", survey(ttl=1_209_601), 20),
        ("no tracking data", survey(message={"#txt": "q"}), 6),
        ("list title over 85", survey(message={"#txt": "q" * 86, "#tracking_data": "t"}), 3),
        ("one option", survey(survey={"options": ["a"]}), 40),
        ("eleven options", survey(survey={"options": ["a"] * 11}), 40),
        ("option over 50", survey(survey={"options": ["a", "b" * 51]}), 40),
        ("carousel of one", carousel(media, item(media)), 41),
        ("carousel of six", carousel(media, *[item(media)] * 6), 41),
        ("title of one", carousel(media, item(media), item(media, "B")), 41),
        ("title of 39", carousel(media, item(media), item(media, "B" * 39)), 41),
        (
            "primary label over 10",
            carousel(
                media,
                item(media),
                item(media, primaryButton={"label": "L" * 11, "actionUrl": "https://x"}),
            ),
            41,
        ),
        (
            "secondary label over 12",
            carousel(
                media,
                item(media),
                item(media, secondaryButton={"label": "L" * 13, "actionUrl": "https://x"}),
            ),
            41,
        ),
        ("image not there", carousel(media, item(media), item(media, image="gone.jpg")), 41),
        ("image not an image", carousel(media, item(media), item(media, image="invoice.pdf")), 41),
        ("template unknown", template(templateId="5f0b1c2d-0000-4000-8000-000000000000"), 38),
        ("template language", template(templateLang="xx"), 39),
        ("template without pin", template(templateParams={"code_reason": "x"}), 7),
        ("template parameter with a URL", template(templateParams={"pin": "https://x"}), 39),
        ("template parameter over 125", template(templateParams={"pin": "1" * 126}), 39),
        (
            "template missing a required parameter",
            template(templateId=RICH_OTP, templateParams={"pin": "4821"}),
            39,
        ),
    ]
    for label, body, status in cases:
        answer = await live.admin.post("/vibersrvc/1/send_message", json=body)
        assert answer.status_code == 200, label
        assert answer.json()["status"] == status, label
    assert live.simulator.received == []
    for fine in (survey(), carousel(media), template()):
        answer = await live.admin.post("/vibersrvc/1/send_message", json=fine)
        assert answer.json()["status"] == 0, answer.text


async def test_an_operator_registers_templates_and_sends_name_them(live: Live) -> None:
    """`PUT /_sim/partner/templates` registers templates as an operator does at Viber: a
    send naming one is refused (38) before, taken after; a bad list registers nothing."""
    await script(live, "+380501234563", reachable=True)
    own = "7d1e4c2a-1111-4222-8333-944455556666"
    send = template(templateId=own, templateLang="uk", templateParams={"pin": "1", "shop": "S"})

    async def status() -> int:
        answer = await live.admin.post("/vibersrvc/1/send_message", json=send)
        assert answer.status_code == 200
        found: int = answer.json()["status"]
        return found

    assert await status() == 38
    bad_lists: list[tuple[str, Any]] = [
        ("no pin", [{"id": own, "languages": ["uk"], "required": ["shop"]}]),
        ("no language", [{"id": own, "languages": [], "required": ["pin"]}]),
        ("a language of three letters", [{"id": own, "languages": ["ukr"], "required": ["pin"]}]),
        ("no id", [{"id": "", "languages": ["uk"], "required": ["pin"]}]),
        ("a parameter twice", [{"id": own, "languages": ["uk"], "required": ["pin", "pin"]}]),
        ("an unknown field", [{"id": own, "languages": ["uk"], "required": ["pin"], "x": 1}]),
        ("not a list", {"id": own}),
        # one good and one bad: neither is registered
        (
            "one bad of two",
            [
                {"id": own, "languages": ["uk"], "required": ["pin", "shop"]},
                {"id": "other", "languages": ["en"], "required": []},
            ],
        ),
    ]
    for label, body in bad_lists:
        answer = await live.admin.put("/_sim/partner/templates", json=body)
        assert answer.status_code == 400, label
    assert own not in live.simulator.templates
    assert await status() == 38
    answer = await live.admin.put(
        "/_sim/partner/templates",
        json=[{"id": own, "languages": ["uk", "en"], "required": ["pin", "shop"]}],
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"templates": sorted({OTP, RICH_OTP, own})}
    assert await status() == 0
    assert live.simulator.received[-1].template_id == own
    # registered again with another language: the id's template is replaced
    answer = await live.admin.put(
        "/_sim/partner/templates", json=[{"id": own, "languages": ["en"], "required": ["pin"]}]
    )
    assert answer.status_code == 200
    assert await status() == 39  # no "uk" now, and "shop" unknown


async def test_phones_that_cannot_take_it_are_refused_at_once(live: Live) -> None:
    for phone, behaviour, status in [
        ("+380501234560", {"registered": False}, 9),
        ("+380501234561", {"reachable": True, "blocked": True}, 8),
        ("+380501234562", {"reachable": True, "no_device": True}, 10),
    ]:
        await script(live, phone, **behaviour)
        answer = await live.admin.post(
            "/vibersrvc/1/send_message", json=survey(dest=phone.removeprefix("+"))
        )
        assert answer.json()["status"] == status


def _body(content: Content, phone: str) -> Any:
    body = build_send_message(
        content,
        service_id=SERVICE_ID,
        dest=phone.removeprefix("+"),
        attempt_id="att-" + phone,
        label="promotion",
        ttl=600,
    )
    assert not isinstance(body, Failed)
    return body


async def test_the_channel_sends_each_kind_and_reads_its_receipts(
    live: Live, media: MediaHost
) -> None:
    buy = Button("Buy", Action(ActionKind.OPEN_URL, url="https://shop.test/buy"))
    cards = tuple(
        Card(title=t, media=Media(MediaKind.IMAGE, media.url("card.png")), buttons=(buy,))
        for t in ("Shoes", "Bags")
    )
    contents = {
        "+380501234563": Content(text="How was it?", survey=("Good", "Bad")),
        "+380501234573": Content(text="New in", carousel=cards),
        "+380501234583": Content(template=OtpTemplate(OTP, "en", {"pin": "4821"})),
    }
    for phone, content in contents.items():
        await script(live, phone, reachable=True, deliver_after_ms=10, read_after_ms=20)
        outcome = await send_message(live.channel, live.sim, _body(content, phone), "att-" + phone)
        assert isinstance(outcome, Sent), (phone, outcome)
        token = outcome.provider_id
        await wait_for(lambda token=token: len(reports(live.receiver, token)) == 2)  # type: ignore[misc]
        states = [r.state for r in reports(live.receiver, token)]
        assert states == ["delivered", "read"]
    kinds = [(m.type, m.phone) for m in live.simulator.received]
    assert kinds == [(801, "+380501234563"), (901, "+380501234573"), (1702, "+380501234583")]
    assert live.simulator.received[0].survey == ("Good", "Bad")
    assert live.simulator.received[2].template_params == {"pin": "4821"}


async def test_not_a_viber_user_is_unreachable(live: Live) -> None:
    phone = "+380501234560"
    await script(live, phone, registered=False)
    content = Content(text="How was it?", survey=("Good", "Bad"))
    outcome = await send_message(live.channel, live.sim, _body(content, phone), "a")
    assert outcome == Unreachable("NOT_VIBER_USER")
