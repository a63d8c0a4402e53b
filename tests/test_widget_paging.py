"""The operator chat panel pages through long lists in a real headless Chromium, against
the real app and REST paging: with 61 chats the list shows the newest 50 and the rest on
scrolling to the list's end; a chat of 130 messages opens on its newest, and the older ones
come a page at a time ("Load older messages") until the first — a person's markup in it
still shown as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from cascade.domain.events import BotChatMessage, ChatContent
from cascade.security import hash_secret
from tests.browser import Panel, chromium, page_html, page_server, wait
from tests.widget_app import WidgetCascade

pytestmark = pytest.mark.live

HOSTILE = "<b>bold?</b><img src=x onerror=alert(1)>"
SHORT_CHATS = 60  # and the long one: 61, over the panel's page of 50
LONG = 130  # messages in the long chat: over the 100 the panel once stopped at
T0 = 1_767_225_600_000


def seed(cascade: WidgetCascade) -> int:
    """60 chats of one message, then one of 130 (the newest): the long chat's id."""

    async def work() -> int:
        store, s = cascade.store, cascade.seeded
        token = "7000000001:paging-test"
        bot = await store.add_bot(s.account_id, "telegram", token, hash_secret(token))
        await store.attach_bots(s.account_id, s.organization_id, [bot])
        short = [
            BotChatMessage(
                "telegram", bot, str(2000 + n), "m1", T0 + n * 1000, ChatContent.TEXT,
                f"Hello from {n}", name=f"Person {n:02d}",
            )
            for n in range(SHORT_CHATS)
        ]  # fmt: skip
        for said in short:  # one at a time: each chat's last message after the one before
            await store.record_chat_messages([said])
        long = [
            BotChatMessage(
                "telegram", bot, "9999", f"l{n}", T0 + 100_000 + n * 1000, ChatContent.TEXT,
                HOSTILE if n == 0 else f"line {n:03d}", name="Long talker",
            )
            for n in range(LONG)
        ]  # fmt: skip
        found = None
        for said in long:
            [arrival] = await store.record_chat_messages([said])
            assert arrival is not None
            found = arrival.chat.id
        assert found is not None
        return found

    chat_id: int = cascade.on_server(work())
    return chat_id


@pytest.fixture
def cascade(tmp_path: Path) -> Iterator[WidgetCascade]:
    with WidgetCascade(tmp_path) as app:
        yield app


@pytest.fixture
def panel(tmp_path: Path, cascade: WidgetCascade) -> Iterator[Panel]:
    with (
        chromium(tmp_path / "profile") as driver,
        page_server(page_html(cascade.script_src, cascade.operator_token())) as url,
    ):
        driver.get(url)
        yield Panel(driver)


def click(driver: webdriver.Chrome, button: WebElement) -> None:
    driver.execute_script("arguments[0].click()", button)


def texts(panel: Panel) -> list[str]:
    return [
        m.find_element(By.CSS_SELECTOR, ".text").get_property("textContent")  # type: ignore[misc]
        for m in panel.messages()
    ]


def test_more_chats_and_older_messages_are_reachable(panel: Panel, cascade: WidgetCascade) -> None:
    long_chat = seed(cascade)
    panel.wait_state("connected")
    panel.driver.refresh()  # the list as a fresh page loads it, all seeded
    panel.wait_state("connected")
    wait(panel.driver, lambda _: len(panel.all("li.chat")) == 50, "the first page of chats")
    assert panel.chat(long_chat) is not None  # the newest
    oldest_name = "Person 00"
    names = [c.find_element(By.CSS_SELECTOR, ".name").text for c in panel.all("li.chat")]
    assert oldest_name not in names
    more = panel.one("button.more-chats")
    assert more.is_displayed()
    panel.screenshot("paging-first-50-chats")
    # scrolled to the list's end, the next page comes (as "More chats" would bring it)
    panel.driver.execute_script(
        "const pane = arguments[0]; pane.scrollTop = pane.scrollHeight;", panel.one("aside.chats")
    )
    wait(panel.driver, lambda _: len(panel.all("li.chat")) == SHORT_CHATS + 1, "every chat")
    names = [c.find_element(By.CSS_SELECTOR, ".name").text for c in panel.all("li.chat")]
    assert oldest_name in names
    assert len(set(names)) == SHORT_CHATS + 1
    wait(panel.driver, lambda _: not more.is_displayed(), "no more chats to load")

    panel.wait_chat(long_chat).click()
    wait(panel.driver, lambda _: "line 129" in texts(panel), "the newest message")
    first_shown = texts(panel)
    assert len(first_shown) < LONG
    assert first_shown == sorted(first_shown)  # oldest first, the newest at the bottom
    older = panel.one("button.older")
    assert older.is_displayed()
    panel.screenshot("paging-newest-messages")
    for _ in range(LONG // 50 + 1):
        if not older.is_displayed():
            break
        before = len(panel.messages())
        click(panel.driver, older)
        wait(
            panel.driver,
            lambda _, before=before: len(panel.messages()) > before or not older.is_displayed(),
            "an older page of messages",
        )
    wait(panel.driver, lambda _: len(panel.messages()) == LONG, "every message of the chat")
    assert not older.is_displayed()
    shown = texts(panel)
    assert shown == [HOSTILE] + [f"line {n:03d}" for n in range(1, LONG)]  # in order, once
    first = panel.messages()[0]
    assert first.find_element(By.CSS_SELECTOR, ".text").text == HOSTILE  # characters, not markup
    assert first.find_elements(By.CSS_SELECTOR, "b, img, script") == []
    panel.screenshot("paging-oldest-message")
    assert panel.driver.execute_script("return window.__alerts") == []
    assert panel.driver.execute_script("return window.__errors") == []
