"""ChatHub end to end on `cascade up` (issue 16's "done when"): the provider's own
`ChathubClient` (tests/node/chathub-client.js, the provider's example verbatim; only its URL
is changed, by tests/node/example.js) on the official `@microsoft/signalr` package gets a
company token with the demo login, connects to /chathub, receives what simulated people
write to the demo bots — a Telegram user and a Viber user, through the simulators' `say` —
live, and its `SendMessage` reaches each of them: asserted at the simulators' own record of
what the bots sent. The messages' statuses follow (Telegram: accepted is Success; Viber:
its delivered / seen callbacks), and the chats are there over REST afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cascade.channels.telegram.demo import BOT_TOKEN as TG_TOKEN
from cascade.channels.viber_bot.demo import BOT_TOKEN as VB_TOKEN
from tests.node_clients import NODE_DIR, node
from tests.ports import free_port
from tests.test_cli import base_env, start_up, stop
from tests.test_hub_clients import Script

WAIT_S = 20.0
TG_PERSON = "+380501230001"  # started the demo bot and shared their phone (`up` onboards)
VB_PERSON = "+380501230009"  # a Viber bot subscriber who shared their phone, reads at once
PASSWORD = "demo-password"
PNG_SHA256 = hashlib.sha256(
    base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
).hexdigest()  # the picture tests/node/chat_client.js sends


def _simulator(log: str, name: str) -> str:
    found = re.search(rf"\b{name} (127\.0\.0\.1:\d+)", log)
    assert found, log
    return f"http://{found.group(1)}"


class Lines:
    """Everything the client said, read as it comes: a line is looked for among those
    already read (events may come in either order) and then among those to come."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.seen: list[dict[str, Any]] = []

    def find(self, test: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        for line in self.seen:
            if test(line):
                return line
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            line = self.script.next_any(what)
            self.seen.append(line)
            if test(line):
                return line
        raise AssertionError(f"no {what}; the client said {self.seen}, logged {self.script.log}")


def event(name: str, **where: Any) -> Callable[[dict[str, Any]], bool]:
    def test(line: dict[str, Any]) -> bool:
        if line.get("step") != "event" or line.get("name") != name:
            return False
        first = line["args"][0]
        return all(
            (first.get(k) if isinstance(first, dict) else line["args"][int(k[1:])]) == v
            for k, v in where.items()
        )

    return test


def poll(
    read: Callable[[], list[dict[str, Any]]],
    test: Callable[[dict[str, Any]], bool],
    lines: Lines | None = None,
) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        found = [item for item in read() if test(item)]
        if found:
            return found[0]
        assert time.monotonic() < deadline, (read(), lines.seen if lines else None)
        time.sleep(0.1)


@pytest.mark.live
def test_the_providers_client_answers_simulated_people_on_cascade_up(tmp_path: Path) -> None:
    node_bin = node()
    env = base_env(tmp_path / "demo.db")
    env["CASCADE_DEMO_PASSWORD"] = PASSWORD
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    up = start_up(env, port, log)
    client = subprocess.Popen(
        [node_bin, "chat_client.js", "chathub-client.js", base, "demo", PASSWORD, "2"],
        cwd=NODE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = log.read_text()
        tg, vb = _simulator(banner, "telegram"), _simulator(banner, "viber")
        script = Script(client)
        assert script.next("token")["parts"] == 3  # a JWT
        script.next("connected")
        lines = Lines(script)
        token = httpx.post(
            f"{base}/api/company/get-token", json={"login": "demo", "password": PASSWORD}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        def operator_message(chat_id: int, kind: str = "text") -> dict[str, Any]:
            found = httpx.get(f"{base}/api/chat/{chat_id}/messages", headers=headers, timeout=10)
            [answer] = [
                m for m in found.json() if m["author"] == 0 and ("media" in m) == (kind != "text")
            ]
            return dict(answer)

        # --- a Telegram user writes; the operator's client answers --------------------------
        said = httpx.post(
            f"{tg}/_sim/users/{TG_PERSON}/say",
            params={"bot": TG_TOKEN, "text": "Hello, is anyone there? <b>1</b>"},
            timeout=10,
        )
        assert said.status_code < 300, said.text
        created = lines.find(event("ChatCreated"), "ChatCreated")["args"][0]
        assert created["messSource"] == 2
        assert created["client"]["phone"] == TG_PERSON
        received = lines.find(event("ReceiveMessage"), "ReceiveMessage")["args"][0]
        assert received["message"] == "Hello, is anyone there? <b>1</b>"
        assert (received["chatId"], received["phone"], received["author"]) == (
            created["id"],
            TG_PERSON,
            1,
        )
        tg_chat = received["chatId"]
        lines.find(lambda line: line == {"step": "sent", "chatId": tg_chat}, "the reply sent")
        reply = "Operator: got 'Hello, is anyone there? <b>1</b>'"

        def tg_sent() -> list[dict[str, Any]]:
            answer: list[dict[str, Any]] = httpx.get(f"{tg}/_sim/received", timeout=10).json()
            return answer

        delivered = poll(tg_sent, lambda r: r["text"] == reply)
        assert delivered["phone"] == TG_PERSON
        lines.find(lambda line: line == {"step": "sentMedia", "chatId": tg_chat}, "the picture")
        photo = poll(tg_sent, lambda r: r["kind"] == "photo", lines)
        assert (photo["phone"], photo["media"]["sha256"]) == (TG_PERSON, PNG_SHA256)
        answer = operator_message(tg_chat, "text")
        assert (answer["message"], answer["status"]) == (reply, 1)  # Telegram accepted it
        lines.find(event("MessageStatusChanged", a0=answer["id"], a1=1), "Success (Telegram)")

        # --- a Viber user writes; the same client answers --------------------------------------
        said = httpx.post(
            f"{vb}/_sim/users/{VB_PERSON}/say",
            params={"token": VB_TOKEN, "kind": "text", "text": "Привіт з Viber"},
            timeout=10,
        )
        assert said.status_code < 300, said.text
        received = lines.find(event("ReceiveMessage", message="Привіт з Viber"), "Viber")
        vb_message = received["args"][0]
        assert vb_message["phone"] == VB_PERSON
        vb_chat = vb_message["chatId"]
        lines.find(lambda line: line == {"step": "sent", "chatId": vb_chat}, "the Viber reply")

        def vb_sent() -> list[dict[str, Any]]:
            answer: list[dict[str, Any]] = httpx.get(
                f"{vb}/_sim/received", params={"phone": VB_PERSON}, timeout=10
            ).json()
            return answer

        delivered = poll(vb_sent, lambda r: r["text"] == "Operator: got 'Привіт з Viber'")
        assert delivered["type"] == "text"
        # the picture: Viber fetched it from Cascade's public URL for the upload
        picture = poll(vb_sent, lambda r: r["type"] == "picture")
        assert picture["media"]["sha256"] == PNG_SHA256
        assert picture["media"]["url"].startswith(f"{base}/api/chat/media/public/")
        assert picture["media"]["url"].endswith("/photo.png")
        # Viber's delivered callback makes it Success, its seen Read
        answer = operator_message(vb_chat)
        lines.find(event("MessageStatusChanged", a0=answer["id"], a1=1), "Success (Viber)")
        lines.find(event("MessageStatusChanged", a0=answer["id"], a1=3), "Read (Viber)")

        # --- the same conversations over REST -----------------------------------------------------
        chats = httpx.get(f"{base}/api/chat/chats", headers=headers, timeout=10).json()
        assert chats["total"] == 2
        assert sorted(item["source"] for item in chats["items"]) == [1, 2]
        messages = httpx.get(f"{base}/api/chat/{tg_chat}/messages", headers=headers, timeout=10)
        assert [(m["author"], m["message"], m["status"]) for m in messages.json()] == [
            (1, "Hello, is anyone there? <b>1</b>", 1),
            (0, reply, 1),
            (0, "", 1),
        ]
        picture_uri = messages.json()[2]["media"]["uri"]
        served = httpx.get(picture_uri, headers=headers, timeout=10)
        assert hashlib.sha256(served.content).hexdigest() == PNG_SHA256
    finally:
        client.kill()
        client.wait()
        for pipe in (client.stdout, client.stderr):
            if pipe is not None:
                pipe.close()
        stop(up)
