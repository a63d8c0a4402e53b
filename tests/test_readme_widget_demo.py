"""The README's walkthrough of the operator chat panel works as printed (issue 16): a live
`cascade up` on loopback ports prints the demo page's address; headless Chromium opens it
and signs in with the demo login; the README's `say` command (only the ports put in)
makes the simulated Telegram user write, and the chat and its message appear in the
panel; the operator replies in the panel; the README's `_sim/received` command shows the
reply reached the user."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By

from tests.browser import Panel, chromium, wait
from tests.ports import free_port
from tests.readme_blocks import API, sh, sh_blocks
from tests.readme_blocks import section as readme_section
from tests.test_cli import base_env, start_up, stop

pytestmark = pytest.mark.live

SECTION = "### Try the panel: `cascade up`'s demo page"
TELEGRAM = "http://127.0.0.1:8081"
PAGE = API + "/widget/demo"


def test_the_readme_walkthrough_of_the_demo_page(tmp_path: Path) -> None:
    section, blocks = readme_section(SECTION), sh_blocks(SECTION)
    [say, received] = blocks
    assert "/say?" in say
    assert "/_sim/received" in received
    assert PAGE in section
    [said] = parse_qs(urlsplit(re.search(r"'(http[^']+)'", say).group(1)).query)["text"]  # type: ignore[union-attr]

    env = base_env(tmp_path / "demo.db")
    env["CASCADE_DEMO_PASSWORD"] = "readme-password-" + uuid.uuid4().hex
    port = free_port()
    log = tmp_path / "up.log"
    process = start_up(env, port, log)
    try:
        banner = log.read_text()
        page = re.search(r"operator chat panel: (\S+)", banner)
        telegram = re.search(r"telegram (127\.0\.0\.1:\d+)", banner)
        assert page, banner
        assert telegram, banner
        assert page.group(1) == f"http://127.0.0.1:{port}/widget/demo"

        def live(block: str) -> str:
            command = block.replace(API, f"http://127.0.0.1:{port}")
            command = command.replace(TELEGRAM, f"http://{telegram.group(1)}")
            assert "127.0.0.1:808" not in command, command  # every port was put in
            return command

        with chromium(tmp_path / "profile") as driver:
            driver.get(page.group(1))
            login = driver.find_element(By.ID, "login")
            assert login.get_property("value") == "demo"  # the demo login, filled in
            driver.find_element(By.ID, "password").send_keys(env["CASCADE_DEMO_PASSWORD"])
            driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            panel = Panel(driver)
            wait(
                driver,
                lambda _: driver.find_elements(By.CSS_SELECTOR, "operator-chat-panel"),
                "the panel",
            )
            panel.wait_state("connected")
            assert "Demo operator" in driver.find_element(By.ID, "who").text

            answer = json.loads(sh(live(say)))
            assert answer.get("webhook_status") == 200, answer
            chat = wait(driver, lambda _: (panel.all("li.chat") or [None])[0], "the new chat")
            assert chat.find_element(By.CSS_SELECTOR, ".unread").text == "1"
            chat.click()
            wait(
                driver,
                lambda _: [m for m in panel.messages() if m.text.startswith(said)],
                "the person's message",
            )
            reply = f"It ships today ({uuid.uuid4().hex[:6]})"
            panel.one("textarea.reply-text").send_keys(reply + "\n")  # Enter sends
            [sent] = wait(driver, lambda _: panel.sent_replies(), "the reply marked sent")
            assert sent.find_element(By.CSS_SELECTOR, ".text").text == reply
            shown = [m.find_element(By.CSS_SELECTOR, ".text").text for m in panel.messages()]
            assert shown == [said, reply]  # the reply below what it answers
            panel.screenshot("readme-demo-page")
            got = json.loads(sh(live(received)))
            assert got[-1]["text"] == reply, got
            assert driver.execute_script("return document.cookie") == ""
    finally:
        stop(process)
