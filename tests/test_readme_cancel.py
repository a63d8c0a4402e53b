"""The README's "Cancel and dry run" examples work as printed: each `sh` block of the
section runs with curl against a live `cascade up` on loopback ports (only the port and
the demo's key put in), with the example price table loaded as the README says, and
answers what its `# →` comment shows."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cascade_cli
from tests.ports import free_port
from tests.readme_blocks import API, ROOT, sh, sh_blocks
from tests.test_cli import base_env, start_up, stop

pytestmark = pytest.mark.live

SECTION = "## Cancel and dry run (Cascade extensions)"


def answers(command: str, env: dict[str, str]) -> list[Any]:
    """Every JSON document the command printed, in order (curl adds no newline)."""
    decoder, text, found = json.JSONDecoder(), sh(command, env).strip(), []
    while text:
        value, end = decoder.raw_decode(text)
        found.append(value)
        text = text[end:].lstrip()
    return found


def shown(block: str) -> str:
    """The block's `# →` comment, as one line."""
    lines = block.split("# →", 1)[1].splitlines()
    return "".join(line.lstrip("# ").strip() for line in lines)


def test_the_cancel_and_dry_run_examples_in_the_readme(tmp_path: Path) -> None:
    cancel_block, dry_run_block = sh_blocks(SECTION)
    env = base_env(tmp_path / "demo.db")
    env["CASCADE_DEMO_KEY"] = "readme-key-" + uuid.uuid4().hex
    port = free_port()
    process = start_up(env, port, tmp_path / "up.log")
    try:
        cascade_cli("prices", "load", str(ROOT / "docs" / "prices.example.csv"), env=env)
        shell = {**env, "KEY": env["CASCADE_DEMO_KEY"]}

        def live(block: str) -> str:
            command = block.replace(API, f"http://127.0.0.1:{port}")
            assert API not in command
            return command

        [sent], cancelled = answers(live(cancel_block), shell)
        expected = json.loads(shown(cancel_block).replace('"…"', json.dumps(sent["messageId"])))
        assert cancelled == expected

        [[preview]] = answers(live(dry_run_block), shell)
        comment = shown(dry_run_block)
        route = preview["route"]
        assert preview["trackinId"] == "order-3"
        for step in route["steps"]:  # each step the comment shows, with what it shows of it
            printed = re.search(r'\{"step":' + str(step["step"]) + r",[^{}]*\}", comment)
            assert printed is not None, step
            for key, value in re.findall(r'"(\w+)":("[^"…]*"|-?[0-9.]+)', printed.group(0)):
                assert step[key] == json.loads(value), (key, step)
        for key in ("endsUnconfirmed", "endReason", "currency", "expectedCost", "maxCost"):
            assert f'"{key}":{json.dumps(route[key])}' in comment, key
    finally:
        stop(process)
