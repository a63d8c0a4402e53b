"""End-to-end: the core SMSBAT API (SPEC D) through `cascade up` — the API and the engine in
one process, every simulator in its own — for each message type and a fallback chain.

One `cascade up` serves the module (tests/test_cli.py `start_up`), its demo login and key
fixed by CASCADE_DEMO_LOGIN / CASCADE_DEMO_PASSWORD / CASCADE_DEMO_KEY. Media the messages
name are served by a fixture server on loopback (tests/media_server.py), which the
simulators fetch as the real services do. Each test POSTs `/bat/messagelist` to a sandbox
persona who can take that type (by the phone's last digit: 3 a Viber user, 4 RCS-capable,
6 a plain phone, 9 takes flash calls), polls `GET /bat/message/{id}` until it is final,
and reads at the simulator's `/_sim/` logs that what the provider received is what was
sent. Each test sends to a number of its own, so the logs are read by phone.

Beside the types: a Viber promo with a fallback array [rcs, sms] to a plain phone ends
delivered by SMS with each step's status, and the status webhooks reach a receiver on
loopback in the provider's shape (D7), signed, and retried after a 500.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cascade.domain.templates import OTP_TEMPLATES
from tests.media_server import MediaHost, media_server
from tests.ports import free_port
from tests.test_cli import base_env, start_up, stop
from tests.test_e2e_delivery import Receiver
from tests.test_e2e_delivery import receiver as receiver  # the fixture, used by name

pytestmark = pytest.mark.live

LOGIN, PASSWORD = "e2e-bat", "e2e-bat-password-0123"
KEY = "e2e-bat-key-" + uuid.uuid4().hex
FINAL = frozenset({"delivered", "undeliverable", "permanenterror"})
_SIMULATOR = re.compile(r"(\w+) 127\.0\.0\.1:(\d+)")


@dataclass
class Up:
    """A running `cascade up`, its simulators' URLs, and the demo's credentials."""

    api: str
    env: dict[str, str]
    account_id: str
    sims: dict[str, str]  # simulator name (as the banner says it) -> its /_sim/ base URL
    log: Path
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15))

    @property
    def basic(self) -> dict[str, str]:
        """HTTP Basic with the demo login (D2)."""
        token = base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @property
    def key(self) -> dict[str, str]:
        return {"X-Authorization-Key": KEY}

    def send(self, message: dict[str, Any], auth: dict[str, str] | None = None) -> dict[str, Any]:
        """POST one message as a list; its item of the answer (accepted)."""
        response = self.http.post(
            f"{self.api}/bat/messagelist", json={"messages": [message]}, headers=auth or self.basic
        )
        assert response.status_code == 200, response.text
        [item] = response.json()["messages"]
        assert item["status"] == "accepted", item
        return dict(item)

    def status(self, message_id: str, auth: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.http.get(f"{self.api}/bat/message/{message_id}", headers=auth or self.key)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def final(self, message_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll the status until its `deliverystatus` is final."""
        deadline = time.monotonic() + timeout
        while (shown := self.status(message_id))["deliverystatus"] not in FINAL:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{message_id} not final in {timeout}s: {shown}\n{self.log.read_text()[-3000:]}"
                )
            time.sleep(0.1)
        return shown

    def sim(self, name: str, what: str, phone: str | None = None) -> list[dict[str, Any]]:
        """A simulator's `/_sim/{what}` log (that phone's, when given)."""
        params = {"phone": phone} if phone and what == "received" else {}
        response = self.http.get(f"{self.sims[name]}/_sim/{what}", params=params)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "cascade", *args],
            env={**self.env, "CASCADE_ALLOW_PRIVATE_CALLBACKS": "1"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture(scope="module")
def media() -> Iterator[MediaHost]:
    with media_server() as host:
        yield host


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    tmp = tmp_path_factory.mktemp("bat-up")
    env = base_env(tmp / "demo.db")
    env.update(
        {"CASCADE_DEMO_LOGIN": LOGIN, "CASCADE_DEMO_PASSWORD": PASSWORD, "CASCADE_DEMO_KEY": KEY}
    )
    port = free_port()
    log = tmp / "up.log"
    process = start_up(env, port, log)
    try:
        banner = log.read_text()
        account = re.search(r"demo account:\s+(\S+)", banner)
        assert account, banner
        listed = re.search(r"simulators: (.*)", banner)
        assert listed, banner
        sims = {name: int(p) for name, p in _SIMULATOR.findall(listed.group(1))}
        urls = {name: f"http://127.0.0.1:{p}" for name, p in sims.items()}
        urls["smsc"] = f"http://127.0.0.1:{sims['smsc'] + 1}"  # SMPP first, its admin API next
        running = Up(f"http://127.0.0.1:{port}", env, account.group(1), urls, log)
        yield running
        running.http.close()
    finally:
        stop(process)


def phone(digit: int) -> str:
    """A number of this test's own with the persona's last digit."""
    return f"+38067{uuid.uuid4().int % 10**6:06d}{digit}"


@dataclass(frozen=True)
class Case:
    """One type: what is sent (given the media host), where it must arrive, and what the
    provider must have received (`check(up, phone, media, status)`)."""

    digit: int  # the persona who can take it
    message: Callable[[MediaHost], dict[str, Any]]
    channel: str
    family: str  # its key in extendedStatuses
    check: Callable[[Up, str, MediaHost, dict[str, Any]], None]
    parts: int = 1


def only(entries: list[dict[str, Any]], phone: str) -> dict[str, Any]:
    [found] = [e for e in entries if e.get("phone") == phone]
    return found


LONG_TEXT = "Your parcel 4821 is at the pickup point until Friday. " * 7  # 378 GSM-7: 3 parts


def check_sms(up: Up, to: str, media: MediaHost, status: dict[str, Any]) -> None:
    taken = only(up.sim("smsc", "received"), to)
    assert (taken["text"], taken["parts"], taken["data_coding"]) == (LONG_TEXT, 3, 0)
    pieces = [p for p in up.sim("smsc", "parts") if p["phone"] == to]
    assert sorted(p["sequence"] for p in pieces) == [1, 2, 3]
    assert {p["total"] for p in pieces} == {3}


def check_promo_image(up: Up, to: str, media: MediaHost, status: dict[str, Any]) -> None:
    taken = only(up.sim("viber_business", "received", to), to)
    assert (taken["message_type"], taken["text"], taken["category"]) == (
        "image",
        "Spring sale",
        "promotion",
    )
    assert taken["image"] == media.url("sale.jpg")
    assert taken["button"] == {"text": "Shop now", "url": "https://shop.example/sale"}


def check_promo_video(up: Up, to: str, media: MediaHost, status: dict[str, Any]) -> None:
    taken = only(up.sim("viber_business", "received", to), to)
    assert (taken["message_type"], taken["text"]) == ("video", "Our new collection")
    assert (taken["video"], taken["thumbnail"]) == (media.url("promo.mp4"), media.url("thumb.jpg"))
    assert (taken["duration_s"], taken["file_size_mb"]) == (12, 1)


def check_file(up: Up, to: str, media: MediaHost, status: dict[str, Any]) -> None:
    # Vonage's file message has no caption: the file, then its text as a text message
    file, text = [e for e in up.sim("viber_business", "received", to) if e["phone"] == to]
    assert (file["message_type"], file["category"]) == ("file", "transaction")
    assert (file["file"], file["file_name"]) == (media.url("invoice.pdf"), "invoice-4821.pdf")
    assert (text["message_type"], text["text"], text["category"]) == (
        "text",
        "Your invoice",
        "transaction",
    )
    assert file["client_ref"] == text["client_ref"]
    # the step is delivered once both are: each reported delivered to the status URL
    delivered = {
        c["message_uuid"]
        for c in up.sim("viber_business", "callbacks")
        if c["status"] == "delivered"
    }
    assert {file["message_uuid"], text["message_uuid"]} <= delivered


OTP = next(t for t in OTP_TEMPLATES.values() if t.name == "code_with_validity")
OTP_PARAMS = {"pin": "4821", "business_platform_name": "Shop", "code_validity_time": "5"}


def check_otp(up: Up, to: str, media: MediaHost, status: dict[str, Any]) -> None:
    taken = only(up.sim("viber_business", "partner_received"), to)
    assert (taken["template_id"], taken["template_lang"]) == (OTP.id, "en")
    assert taken["template_params"] == OTP_PARAMS
    assert taken["service_id"] == 4242  # the demo's partner service id (viber_business/demo.py)


def check_survey(up: Up, to: str, media: MediaHost, status: dict[str, Any]) -> None:
    taken = only(up.sim("viber_business", "partner_received"), to)
    assert (taken["text"], taken["survey"]) == ("How was your delivery?", ["Fast", "Slow", "Lost"])


CAROUSEL_ITEMS = [
    ("Shoes", "sale.jpg", {"label": "Buy", "actionUrl": "https://shop.example/shoes"}, None),
    (
        "Bags",
        "card.png",
        {"label": "Buy", "actionUrl": "https://shop.example/bags"},
        {"label": "More", "actionUrl": "https://shop.example/more"},
    ),
]


def viber_items(media: MediaHost) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for title, image, primary, secondary in CAROUSEL_ITEMS:
        item = {"title": title, "imageUrl": media.url(image), "primaryButton": primary}
        if secondary is not None:
            item["secondaryButton"] = secondary
        items.append(item)
    return items


def check_viber_carousel(up: Up, to: str, media: MediaHost, status: dict[str, Any]) -> None:
    taken = only(up.sim("viber_business", "partner_received"), to)
    assert taken["carousel"] == viber_items(media)


RCS_BUTTONS = [
    {"text": "Open shop", "action": {"type": "openUrl", "url": "https://shop.example"}},
    {"text": "Call us", "action": {"type": "dial", "phoneNumber": "+380441234567"}},
]


def rcs_content(up: Up, to: str) -> dict[str, Any]:
    taken = only(up.sim("rcs", "received"), to)
    card: dict[str, Any] = taken["body"]["contentMessage"]["richCard"]
    return card


def check_rcs_card(up: Up, to: str, media: MediaHost, status: dict[str, Any]) -> None:
    content = rcs_content(up, to)["standaloneCard"]["cardContent"]
    assert content["description"] == "Autumn boots are in"  # the text
    assert content["media"]["contentInfo"]["fileUrl"] == media.url("card.png")
    assert content["media"]["contentInfo"]["thumbnailUrl"] == media.url("thumb.jpg")
    assert content["media"]["height"] == "TALL"
    actions = [s["action"] for s in content["suggestions"]]
    assert [a["text"] for a in actions] == ["Open shop", "Call us"]
    assert actions[0]["openUrlAction"] == {"url": "https://shop.example"}
    assert actions[1]["dialAction"] == {"phoneNumber": "+380441234567"}


def check_rcs_carousel(up: Up, to: str, media: MediaHost, status: dict[str, Any]) -> None:
    cards = rcs_content(up, to)["carouselCard"]["cardContents"]
    assert [c["title"] for c in cards] == ["Shoes", "Bags"]
    assert [c["media"]["contentInfo"]["fileUrl"] for c in cards] == [
        media.url("card.png"),
        media.url("sale.jpg"),
    ]
    assert [[s["action"]["openUrlAction"]["url"] for s in c["suggestions"]] for c in cards] == [
        ["https://shop.example/shoes"],
        ["https://shop.example/bags"],
    ]


def check_flashcall(up: Up, to: str, media: MediaHost, status: dict[str, Any]) -> None:
    [call] = [c for c in up.sim("flashcall", "received") if c["to"] == to]
    assert call["from"] == "+380441234567"  # the callerId: its last four digits the code
    assert status["pattern"] == "***4567"


def rcs_card(media: MediaHost) -> dict[str, Any]:
    return {
        "text": "Autumn boots are in",
        "messageData": {
            "media": {
                "url": media.url("card.png"),
                "type": "image",
                "height": "TALL",
                "thumbnail": media.url("thumb.jpg"),
            },
            "buttons": RCS_BUTTONS,
        },
    }


def rcs_carousel_card(title: str, image: str, url: str, media: MediaHost) -> dict[str, Any]:
    return {
        "title": title,
        "description": f"{title}, new in",
        "media": {"url": media.url(image), "type": "image"},
        "buttons": [{"text": "Buy", "action": {"type": "openUrl", "url": url}}],
    }


CASES: dict[str, Case] = {
    "sms": Case(6, lambda m: {"type": "sms", "text": LONG_TEXT}, "sms", "sms", check_sms, 3),
    "viber_promo": Case(
        3,
        lambda m: {
            "type": "viber_promo",
            "text": "Spring sale",
            "messageData": {
                "image": m.url("sale.jpg"),
                "buttonText": "Shop now",
                "buttonAction": "https://shop.example/sale",
            },
        },
        "viber_business",
        "viber",
        check_promo_image,
    ),
    "viber_promo_video": Case(
        3,
        lambda m: {
            "type": "viber_promo",
            "text": "Our new collection",
            "messageData": {
                "video": m.url("promo.mp4"),
                "thumbnail": m.url("thumb.jpg"),
                "fileSize": 1,
                "duration": 12,
            },
        },
        "viber_business",
        "viber",
        check_promo_video,
    ),
    "viber_trans_pdf": Case(
        3,
        lambda m: {
            "type": "viber_trans",
            "text": "Your invoice",
            "messageData": {
                "fileUrl": m.url("invoice.pdf"),
                "fileName": "invoice-4821.pdf",
                "fileType": "pdf",
            },
        },
        "viber_business",
        "viber",
        check_file,
    ),
    "viber_otp": Case(
        3,
        lambda m: {
            "type": "viber_otp",
            "messageData": {
                "templateId": OTP.id,
                "templateLang": "en",
                "templateParams": OTP_PARAMS,
            },
        },
        "viber_business",
        "viber",
        check_otp,
    ),
    "viber_survey": Case(
        3,
        lambda m: {
            "type": "viber_survey",
            "text": "How was your delivery?",
            "messageData": {"survey": {"options": ["Fast", "Slow", "Lost"]}},
        },
        "viber_business",
        "viber",
        check_survey,
    ),
    "viber_carousel": Case(
        3,
        lambda m: {
            "type": "viber_carousel",
            "messageData": {"carousel": {"items": viber_items(m)}},
        },
        "viber_business",
        "viber",
        check_viber_carousel,
    ),
    "rcs_card": Case(4, lambda m: {"type": "rcs", **rcs_card(m)}, "rcs", "rcs", check_rcs_card),
    "rcs_carousel": Case(
        4,
        lambda m: {
            "type": "rcs",
            "text": "Pick one",
            "messageData": {
                "carousel": {
                    "cards": [
                        rcs_carousel_card("Shoes", "card.png", "https://shop.example/shoes", m),
                        rcs_carousel_card("Bags", "sale.jpg", "https://shop.example/bags", m),
                    ]
                }
            },
        },
        "rcs",
        "rcs",
        check_rcs_carousel,
    ),
    "flashcall": Case(
        9,
        lambda m: {"type": "flashcall", "messageData": {"callerId": "+380441234567"}},
        "flashcall",
        "flashcall",
        check_flashcall,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_type_is_delivered_on_its_channel_as_sent(up: Up, media: MediaHost, name: str) -> None:
    case = CASES[name]
    to = phone(case.digit)
    message = {"from": "Shop", "to": to, "customerMessageId": f"e2e-{name}-{to}"}
    message.update(case.message(media))
    # the demo login (HTTP Basic) sends; the key reads, and "@" with the key reads too
    item = up.send(message, up.basic)
    assert (item["to"], item["parts"]) == (to, case.parts)
    if name == "flashcall":
        assert item["pattern"] == "***4567"  # known before the call: callerId's last digits
    status = up.final(item["messageId"])
    assert status["deliverystatus"] == "delivered", status
    assert (status["channel"], status["partscount"]) == (case.channel, case.parts)
    assert (status["type"], status["customerMessageId"]) == (
        message["type"],
        message["customerMessageId"],
    )
    assert status["fallbacks"] == []
    assert status["extendedStatuses"] == {case.family: "delivered"}
    at_key = base64.b64encode(f"@:{KEY}".encode()).decode()
    assert up.status(item["messageId"], {"Authorization": f"Basic {at_key}"}) == status
    case.check(up, to, media, status)


def test_the_demo_login_with_a_wrong_password_is_refused(up: Up) -> None:
    wrong = base64.b64encode(f"{LOGIN}:not-{PASSWORD}".encode()).decode()
    response = up.http.post(
        f"{up.api}/bat/messagelist",
        json={"messages": [{"from": "Shop", "to": phone(6), "type": "sms", "text": "Hi"}]},
        headers={"Authorization": f"Basic {wrong}"},
    )
    assert response.status_code == 401, response.text
    assert response.json()["status"] == 401


def test_a_viber_promo_falls_back_through_rcs_to_sms(up: Up, media: MediaHost) -> None:
    to = phone(6)  # a plain phone: not on Viber, no RCS
    item = up.send(
        {
            "from": "Shop",
            "to": to,
            "type": "viber_promo",
            "text": "Spring sale",
            "messageData": {
                "image": media.url("sale.jpg"),
                "button": {"text": "Shop now", "url": "https://shop.example/sale"},
            },
            "fallback": [
                {"type": "rcs", **rcs_card(media)},
                {"type": "sms", "text": "Spring sale: https://shop.example/sale"},
            ],
        },
        up.key,
    )
    status = up.final(item["messageId"])
    assert (status["deliverystatus"], status["channel"]) == ("delivered", "sms"), status
    assert status["fallbacks"] == [
        {"type": "rcs", "status": "undeliverable"},
        {"type": "sms", "status": "delivered"},
    ]
    assert status["extendedStatuses"] == {
        "viber": "undeliverable",
        "rcs": "undeliverable",
        "sms": "delivered",
    }
    # the SMS step went out with its own text, in one part
    taken = only(up.sim("smsc", "received"), to)
    assert (taken["text"], taken["parts"]) == ("Spring sale: https://shop.example/sale", 1)
    assert status["partscount"] == 1


def test_status_changes_reach_the_status_url_in_the_providers_shape(
    up: Up, receiver: Receiver
) -> None:
    out = up.cli("callbacks", "add", receiver.url, "--account", up.account_id)
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    callback_id, secret = fields["callback id"].strip(), fields["secret"].strip()
    try:
        to = phone(6)
        item = up.send(
            {"from": "Shop", "to": to, "type": "sms", "text": "Hi", "customerMessageId": to}
        )
        message_id = item["messageId"]
        assert up.final(message_id)["deliverystatus"] == "delivered"

        def bodies() -> list[dict[str, Any]]:
            found = []
            for hit in receiver.snapshot():
                body = json.loads(hit.body)
                if body["messageId"] == message_id and hit.answered == 200:
                    expected = hmac.new(secret.encode(), hit.body, hashlib.sha256).hexdigest()
                    assert hmac.compare_digest(hit.signature, "sha256=" + expected), hit
                    found.append(body)
            return found

        deadline = time.monotonic() + 30
        while not any(b["deliverystatus"] == "delivered" for b in bodies()):
            assert time.monotonic() < deadline, receiver.snapshot()
            time.sleep(0.05)
        taken = bodies()
        for body in taken:  # D7: exactly the provider's five fields
            assert set(body) == {
                "messageId",
                "customerMessageId",
                "deliverystatus",
                "timestamp",
                "cost",
            }
            assert body["customerMessageId"] == to
        assert taken[-1]["deliverystatus"] == "delivered"
        assert {b["deliverystatus"] for b in taken} <= {"processing", "delivered"}
        assert receiver.snapshot()[0].answered == 500  # the first answer failed: retried
    finally:
        up.cli("callbacks", "remove", callback_id, "--account", up.account_id)
