"""A person's media end to end on `cascade up` (SPEC E3: "a person's media is stored and
served to operators at an authenticated URL"): simulated people send a photo and a
document to the demo Telegram bot and a picture to the demo Viber bot, through the
simulators' `say` (the Bot API's getFile and file download; Viber's media URL), and the
demo operator — its own JWT, on the hub — is told (`ReceiveMediaMessage`) and reads the
very same bytes through Cascade's media URL.

The bytes are tests/media_server.py's samples, handed to `say` as the request's body.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from cascade.channels.telegram.demo import BOT_TOKEN as TG_TOKEN
from cascade.channels.viber_bot.demo import BOT_TOKEN as VB_TOKEN
from tests.hub_support import Raw, handshake
from tests.media_server import MEDIA
from tests.ports import free_port
from tests.test_cli import base_env, start_up, stop

pytestmark = pytest.mark.live

WAIT_S = 30.0  # a person's media is fetched after the webhook is answered
TG_PERSON = "+380501230001"  # started the demo bot and shared their phone (`up` onboards)
VB_PERSON = "+380501230009"  # a Viber bot subscriber who shared their phone
DEMO_KEY = "demo-key-chathub-media"


def _banner(log: str, pattern: str) -> str:
    found = re.search(pattern, log)
    assert found, log
    return found.group(1)


async def media_message(hub: Raw, phone: str) -> dict[str, Any]:
    """The next `ReceiveMediaMessage` of `phone`'s chat (other events are passed over)."""
    while True:
        message = await hub.next(within=WAIT_S)
        if message.get("target") == "ReceiveMediaMessage":
            found: dict[str, Any] = message["arguments"][0]
            if found["phone"] == phone:
                return found


def say(url: str, params: dict[str, str], sample: str) -> None:
    """A simulated person sends `sample` (one of tests/media_server.py's) as the body."""
    kind, data = MEDIA[sample]
    response = httpx.post(
        url, params=params, content=data, headers={"Content-Type": kind}, timeout=10
    )
    assert response.status_code == 200, response.text


async def test_a_persons_media_reaches_the_operator_byte_for_byte(tmp_path: Path) -> None:
    env = base_env(tmp_path / "demo.db")
    env["CASCADE_DEMO_KEY"] = DEMO_KEY
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    up = start_up(env, port, tmp_path / "up.log")
    try:
        banner = (tmp_path / "up.log").read_text()
        tg = "http://" + _banner(banner, r"\btelegram (127\.0\.0\.1:\d+)")
        vb = "http://" + _banner(banner, r"\bviber (127\.0\.0\.1:\d+)")
        operator = int(_banner(banner, r"operator id (\d+)"))
        async with httpx.AsyncClient(timeout=10) as api:
            got = await api.post(
                f"{base}/api/operator/get-token",
                headers={"X-Authorization-Key": DEMO_KEY},
                json={"id": operator},
            )
            assert got.status_code == 200, got.text
            token = got.json()["token"]
            as_operator = {"Authorization": f"Bearer {token}"}
            ws_url = base.replace("http://", "ws://") + f"/chathub?access_token={token}"
            async with websockets.connect(ws_url) as ws:
                hub = await handshake(ws)

                async def operator_reads(found: dict[str, Any], sample: str) -> httpx.Response:
                    assert found["author"] == 1  # the person's
                    uri = found["media"]["uri"]
                    assert uri.startswith(f"{base}/api/chat/{found['chatId']}/media/")
                    served = await api.get(uri, headers=as_operator)
                    assert served.status_code == 200, served.text
                    assert served.content == MEDIA[sample][1]
                    assert found["media"]["size"] == len(MEDIA[sample][1])
                    assert (await api.get(uri)).status_code == 401  # only with a token
                    return served

                # Telegram: a photo with a caption, then a document
                tg_say = f"{tg}/_sim/users/{TG_PERSON}/say"
                say(tg_say, {"bot": TG_TOKEN, "kind": "photo", "text": "my card"}, "card.png")
                photo = await media_message(hub, TG_PERSON)
                assert photo["message"] == "my card"
                await operator_reads(photo, "card.png")
                as_file = {"bot": TG_TOKEN, "kind": "document", "name": "invoice.pdf"}
                say(tg_say, as_file, "invoice.pdf")
                document = await media_message(hub, TG_PERSON)
                assert document["media"]["name"] == "invoice.pdf"
                served = await operator_reads(document, "invoice.pdf")
                assert served.headers["content-disposition"].startswith("attachment")

                # Viber: a picture, which Cascade fetches from its media URL
                vb_say = f"{vb}/_sim/users/{VB_PERSON}/say"
                say(vb_say, {"token": VB_TOKEN, "kind": "picture", "name": "sale.jpg"}, "sale.jpg")
                picture = await media_message(hub, VB_PERSON)
                served = await operator_reads(picture, "sale.jpg")
                assert served.headers["content-type"] == "image/jpeg"
    finally:
        stop(up)
