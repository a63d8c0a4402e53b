"""The README's core-API examples work as printed (issue 15, point 8): every `sh` block of
its "The core SMSBAT API" section runs with curl against a live `cascade up` on loopback
ports, only the ports and the demo's key and login put in, so the README cannot drift
from the code. Each send is accepted and ends delivered on its type's channel; the
fallback example ends delivered by SMS, and its status, with the example price table
loaded as the README says, shows what the README's answer shows."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cascade_cli
from tests.ports import free_port
from tests.readme_blocks import API, ROOT, sh, sh_blocks
from tests.test_cli import base_env, start_up, stop

pytestmark = pytest.mark.live

SECTION = "## The core SMSBAT API"
MEDIA = "http://127.0.0.1:8088"
CHANNEL = {  # the channel each type goes through (SPEC D3)
    "sms": "sms",
    "viber_promo": "viber_business",
    "viber_trans": "viber_business",
    "viber_otp": "viber_business",
    "viber_survey": "viber_business",
    "viber_carousel": "viber_business",
    "rcs": "rcs",
    "flashcall": "flashcall",
}
STATUS_TIMEOUT_S = 60


def run(command: str, env: dict[str, str]) -> Any:
    return json.loads(sh(command, env))


def settled(status_command: str, env: dict[str, str]) -> dict[str, Any]:
    """The status the command shows once the message's delivery is final."""
    deadline = time.monotonic() + STATUS_TIMEOUT_S
    while True:
        status: dict[str, Any] = run(status_command, env)
        if status["deliverystatus"] not in ("scheduled", "processing"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


def shown_answer(block: str) -> dict[str, Any]:
    """What the block's `# →` comment says the answer holds (its whole values)."""
    comment = " ".join(line.lstrip("# →") for line in block.splitlines() if line.startswith("#"))
    found: dict[str, Any] = {}
    for key, value in re.findall(r'"(\w+)":("[^"…]*"|-?[0-9.]+|\[[^\]]*\]|\{[^}]*\})', comment):
        found.setdefault(key, json.loads(value))  # the first: the top level's
    return found


def test_every_core_api_example_in_the_readme(tmp_path: Path) -> None:
    blocks = sh_blocks(SECTION)
    sends = [b for b in blocks if "/bat/messagelist" in b]
    [status_block] = [b for b in blocks if "/bat/message/$ID" in b]
    assert len(blocks) == len(sends) + 1
    sent_types = {re.search(r'"type":"(\w+)"', b).group(1) for b in sends}  # type: ignore[union-attr]
    assert sent_types == set(CHANNEL)  # one example per type at least
    [fallback_block] = [b for b in sends if '"fallback"' in b]

    env = base_env(tmp_path / "demo.db")
    env["CASCADE_DEMO_KEY"] = "readme-key-" + uuid.uuid4().hex
    env["CASCADE_DEMO_LOGIN"] = "readme"
    env["CASCADE_DEMO_PASSWORD"] = "readme-password-" + uuid.uuid4().hex
    port = free_port()
    log = tmp_path / "up.log"
    process = start_up(env, port, log)
    try:
        media = re.search(r"sample media: (http://127\.0\.0\.1:\d+)/media/", log.read_text())
        assert media, log.read_text()
        shell = {
            **env,
            "KEY": env["CASCADE_DEMO_KEY"],
            "LOGIN": env["CASCADE_DEMO_LOGIN"],
            "PASSWORD": env["CASCADE_DEMO_PASSWORD"],
        }

        def live(block: str) -> str:
            command = block.replace(API, f"http://127.0.0.1:{port}").replace(MEDIA, media.group(1))
            assert API not in command, command  # every port was put in
            assert MEDIA not in command, command
            return command

        status_command = live(status_block)
        ids: dict[str, tuple[str, str]] = {}  # message id -> (its type, its block)
        for block in sends:
            answer = run(live(block), shell)
            [item] = answer["messages"]
            assert item["status"] == "accepted", (block, answer)
            kind = re.search(r'"type":"(\w+)"', block).group(1)  # type: ignore[union-attr]
            ids[item["messageId"]] = (kind, block)
        for message_id, (kind, block) in ids.items():
            status = settled(status_command, {**shell, "ID": message_id})
            assert status["deliverystatus"] == "delivered", (block, status)
            assert status["type"] == kind
            expected = "sms" if block == fallback_block else CHANNEL[kind]
            assert status["channel"] == expected, (block, status)

        # the fallback's status, priced with the README's example table
        cascade_cli("prices", "load", str(ROOT / "docs" / "prices.example.csv"), env=env)
        [fallback_id] = [i for i, (_, b) in ids.items() if b == fallback_block]
        deadline = time.monotonic() + 10  # a process sees a new table within a second
        while (status := run(status_command, {**shell, "ID": fallback_id}))["cost"] is None:
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        expected_answer = shown_answer(status_block)
        assert {"deliverystatus", "cost", "channel", "fallbacks"} <= set(expected_answer)
        assert {k: status[k] for k in expected_answer} == expected_answer
    finally:
        stop(process)
