"""The operator chat panel in a real headless Chromium, on a page of another origin, against
the real app: the script and its modules load across origins, the element renders, it
authenticates with an operator token and connects to /chathub, and what the hub sends
shows up live — a person's markup as inert text. (The whole story with a simulated
Telegram user is tests/test_widget_story.py: it needs the chats API.)"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.browser import Panel, page_html, page_server, wait
from tests.widget_app import WidgetCascade

pytestmark = pytest.mark.live

HOSTILE = "<script>alert(1)</script><b>x</b>"
HOSTILE_NAME = '<img src=x onerror="alert(2)">Olha'
CHAT = 7001


@pytest.fixture
def cascade(tmp_path: Path) -> Iterator[WidgetCascade]:
    with WidgetCascade(tmp_path) as app:
        yield app


def open_page(driver: webdriver.Chrome, cascade: WidgetCascade, token: str) -> Iterator[Panel]:
    with page_server(page_html(cascade.script_src, token)) as url:
        assert url.split(":")[2] != cascade.url.split(":")[2], "another origin than Cascade's"
        driver.get(url)
        yield Panel(driver)


@pytest.fixture
def panel(browser: webdriver.Chrome, cascade: WidgetCascade) -> Iterator[Panel]:
    yield from open_page(browser, cascade, cascade.operator_token())


def no_alerts(driver: webdriver.Chrome) -> None:
    assert driver.execute_script("return window.__alerts") == []


def test_the_panel_connects_and_shows_chats_and_messages_live(
    panel: Panel, cascade: WidgetCascade
) -> None:
    panel.wait_state("connected")
    assert cascade.connections() == 1  # its own WebSocket to /chathub, with the token
    assert panel.one("header strong").text == "Chats"

    cascade.publish(
        "ChatCreated",
        {
            "id": CHAT,
            "messSource": 2,
            "chatStatus": 0,
            "countUnread": 0,
            "client": {"name": HOSTILE_NAME, "phone": "380501112233"},
            "lastMessageAt": "2030-01-01T09:00:00Z",
        },
    )
    chat = panel.wait_chat(CHAT)
    name = chat.find_element(By.CSS_SELECTOR, ".name")
    assert name.get_property("textContent") == HOSTILE_NAME
    assert chat.find_elements(By.CSS_SELECTOR, "img") == []
    assert chat.find_element(By.CSS_SELECTOR, ".source").text == "Telegram"

    # a message to a chat the operator is not reading: counted as unread
    cascade.publish(
        "ReceiveMessage",
        {"id": 1, "chatId": CHAT, "message": "hello", "author": 1, "phone": "380501112233"},
    )
    wait(panel.driver, lambda _: _unread(panel) == "1", "one unread message")
    panel.screenshot("chat-created-one-unread")

    panel.wait_chat(CHAT).click()
    wait(panel.driver, lambda _: _unread(panel) is None, "the unread count to clear on opening")
    assert panel.one(".who").get_property("textContent") == HOSTILE_NAME

    cascade.publish(
        "ReceiveMessage",
        {
            "id": 2,
            "chatId": CHAT,
            "message": HOSTILE,
            "author": 1,
            "phone": "380501112233",
            "createdAt": "2030-01-01T09:01:00Z",
        },
    )
    shown = wait(
        panel.driver,
        lambda _: [m for m in panel.messages() if m.get_attribute("data-message-id") == "2"],
        "the person's message in the open conversation",
    )[0]
    assert shown.get_attribute("data-author") == "client"
    text = shown.find_element(By.CSS_SELECTOR, ".text")
    assert text.get_property("textContent") == HOSTILE
    assert text.text == HOSTILE  # what the operator reads: the characters, not markup
    assert shown.find_elements(By.CSS_SELECTOR, "b, script, img") == []
    assert panel.all("script") == []
    assert _unread(panel) is None  # read as it arrives: the chat is open
    no_alerts(panel.driver)
    panel.screenshot("hostile-text-inert")

    cascade.publish("ChatStatusChanged", CHAT, 4)
    wait(
        panel.driver,
        lambda _: panel.wait_chat(CHAT).get_attribute("data-status") == "4",
        "the chat to show as closed",
    )
    assert panel.one("select.chat-status").get_property("value") == "4"
    assert panel.driver.execute_script("return window.__errors") == []


def test_events_for_another_organization_never_reach_it(
    panel: Panel, cascade: WidgetCascade
) -> None:
    panel.wait_state("connected")
    other = cascade.seeded.organization_id + 1
    from cascade.api.chathub.hub import Audience

    stranger = Audience(cascade.seeded.account_id, organization_id=str(other))
    cascade.on_server(cascade.hub.publish("ChatCreated", [{"id": 9, "client": {}}], stranger))
    # then one for its own organization: once that shows, the other had its chance
    cascade.publish("ChatCreated", {"id": 10, "client": {"name": "Mine"}})
    panel.wait_chat(10)
    assert panel.chat(9) is None


def test_a_reply_the_server_refuses_is_marked_not_sent(
    panel: Panel, cascade: WidgetCascade
) -> None:
    """Chat 7001 exists in no store: whatever the hub answers SendMessage with is an error
    (no such method on main; no such chat once the chat code has it), and the panel says
    so rather than showing the reply as sent."""
    panel.wait_state("connected")
    cascade.publish("ChatCreated", {"id": CHAT, "client": {"name": "Ivan"}})
    panel.wait_chat(CHAT).click()
    box = panel.one("textarea.reply-text")
    wait(panel.driver, lambda _: box.is_enabled(), "the reply box to open")
    box.send_keys("We are on it")
    panel.one("button.send").click()
    mine = wait(
        panel.driver,
        lambda _: [m for m in panel.messages() if m.get_attribute("data-status") == "2"],
        "the reply marked as not sent",
    )[0]
    assert mine.get_attribute("data-author") == "operator"
    assert mine.find_element(By.CSS_SELECTOR, ".text").text == "We are on it"
    notice = panel.one(".notice")
    assert notice.is_displayed()
    assert notice.text.startswith("The reply was not sent")
    panel.screenshot("reply-refused")


def _tamper(token: str) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["op"] = claims["op"] + 1
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{signature}"


@pytest.mark.parametrize("kind", ["tampered", "garbage", "missing"])
def test_a_bad_token_is_refused_and_said_so(
    browser: webdriver.Chrome, cascade: WidgetCascade, kind: str
) -> None:
    token = {
        "tampered": _tamper(cascade.operator_token()),
        "garbage": "not-a-token",
        "missing": "",
    }[kind]
    for panel in open_page(browser, cascade, token):
        panel.wait_state("unauthorized")
        assert "token" in panel.one(".notice").text
        assert cascade.connections() == 0
        panel.screenshot(f"token-{kind}")


def _unread(panel: Panel) -> str | None:
    chat = panel.chat(CHAT)
    if chat is None:
        return None
    badges = chat.find_elements(By.CSS_SELECTOR, ".unread")
    return badges[0].text if badges else None
