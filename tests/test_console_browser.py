"""The console in a real headless Chromium against a whole installation (issue 17 point 2):
the Telegram and Viber simulators, `cascade api` and a worker as processes
(tests/e2e_stack.py), a login set with the CLI, messages sent through the public API.

A person signs in, finds a message by its phone, opens its timeline, reads the funnel,
the charts and the spend, cancels a scheduled message, and signs out. Screenshots go to
$CASCADE_TEST_ARTIFACTS/console (default test-artifacts/console, not committed);
CASCADE_DOCS_SCREENSHOT=1 also writes the README's docs/console.png.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from tests.browser import wait
from tests.e2e_stack import Stack

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[1]
LOGIN, PASSWORD = "ops", "a long console password"
ON_TELEGRAM = "+380501000701"
NOWHERE = "+380501000702"
HOSTILE = "<i>order</i>'; DROP TABLE messages; --"
PRICES = """channel,country_prefix,price,currency
telegram,380,0.002,EUR
viber_bot,380,0.003,EUR
sms,380,0.031,EUR
"""


def artifacts() -> Path:
    base = os.environ.get("CASCADE_TEST_ARTIFACTS") or str(ROOT / "test-artifacts")
    path = Path(base) / "console"
    path.mkdir(parents=True, exist_ok=True)
    return path


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    path = artifacts() / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def set_login(stack: Stack) -> None:
    """`cascade accounts login`, the password on stdin (as a script gives it)."""
    done = subprocess.run(
        [sys.executable, "-m", "cascade", "accounts", "login", stack.account_id, LOGIN],
        env=stack.env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def load_prices(stack: Stack) -> None:
    path = stack.tmp / "prices.csv"
    path.write_text(PRICES)
    stack.cli("prices", "load", str(path))


def a_chat_answered(stack: Stack) -> None:
    """An organization owning the Telegram bot (the CLI); a person writes to the bot, and
    an operator answers through ChatHub's REST API: one chat, Open, answered."""
    made = re.search(
        r"organization id: (\d+)",
        stack.cli("orgs", "create", "Support", "--account", stack.account_id),
    )
    assert made, "no organization id"
    stack.cli("orgs", "bots", made.group(1), stack.tg_bot_id)
    said = stack.http.post(
        f"{stack.tg_url}/_sim/users/{ON_TELEGRAM}/say", params={"bot": stack.tg_token, "text": "Hi"}
    )
    assert said.json().get("webhook_status") == 200, said.text
    key = {"X-Authorization-Key": stack.api_key}
    chats = stack.http.get(f"{stack.api_url}/api/chat/chats", headers=key).json()["items"]
    assert len(chats) == 1, chats
    answered = stack.http.post(
        f"{stack.api_url}/api/chat/{chats[0]['id']}/message",
        headers=key,
        json={"textMessage": "Hello, how can we help?", "author": 0},
    )
    assert answered.status_code == 200, answered.text


def one(driver: webdriver.Chrome, selector: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, selector)


def rows(driver: webdriver.Chrome) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "table.messages tbody tr")


def sign_in(driver: webdriver.Chrome) -> None:
    one(driver, "input[name=login]").send_keys(LOGIN)
    one(driver, "input[name=password]").send_keys(PASSWORD)
    one(driver, ".sign-in button[type=submit]").click()


def test_sign_in_find_a_message_read_its_timeline_and_the_figures(
    stack: Stack, browser: webdriver.Chrome
) -> None:
    browser.set_window_size(1280, 900)
    set_login(stack)
    load_prices(stack)
    stack.onboard_telegram(ON_TELEGRAM)
    delivered = stack.send_one(ON_TELEGRAM, "Your order 1001 is on its way", id="order-1001")
    nowhere = stack.send_one(NOWHERE, "Nobody can read this", id="order-1002")
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    scheduled = stack.send_one(
        ON_TELEGRAM, "Tomorrow's reminder", id="order-later", scheduledSent=later
    )
    hostile = stack.send_one(ON_TELEGRAM, "Markup in a tracking id", id=HOSTILE)
    assert stack.wait_final(delivered)["status"] == "delivered"
    assert stack.wait_final(nowhere)["status"] == "undeliverable"
    stack.wait_final(hostile)

    # a page asks for sign-in first, and comes back after it
    browser.get(f"{stack.api_url}/console/messages")
    wait(browser, lambda d: "/console/sign-in" in d.current_url, "the sign-in page")
    screenshot(browser, "1-sign-in")
    one(browser, "input[name=login]").send_keys(LOGIN)
    one(browser, "input[name=password]").send_keys("not the password")
    one(browser, ".sign-in button[type=submit]").click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".problem"), "the refusal")
    assert one(browser, ".problem").text == "Invalid login or password"
    sign_in(browser)
    wait(browser, lambda d: d.current_url.endswith("/console/messages"), "the messages page")
    listed = wait(browser, lambda d: len(rows(d)) == 4 and rows(d), "four messages")
    # a client's markup in a tracking id is text on the page, never markup
    hostile_row = [r for r in listed if hostile in r.get_attribute("innerHTML")]
    assert hostile_row, [r.text for r in listed]
    assert hostile_row[0].find_elements(By.CSS_SELECTOR, "i") == []
    assert HOSTILE in hostile_row[0].text
    shot = screenshot(browser, "2-messages")
    if os.environ.get("CASCADE_DOCS_SCREENSHOT") == "1":
        (ROOT / "docs" / "console.png").write_bytes(shot.read_bytes())

    # find the delivered one by its phone
    one(browser, "input[name=phone]").send_keys(ON_TELEGRAM[:-4] + " " + ON_TELEGRAM[-4:])
    one(browser, "form.search button[type=submit]").click()
    wait(
        browser,
        lambda d: "phone" in d.current_url and len(rows(d)) == 3,
        "the three messages to that phone",
    )
    link = [
        a
        for a in browser.find_elements(By.CSS_SELECTOR, "a.message-link")
        if a.text == "order-1001"
    ]
    assert link
    link[0].click()
    wait(browser, lambda d: delivered in d.current_url, "the message's page")
    assert one(browser, "#message-status").text == "delivered"
    timeline = one(browser, "table.timeline").text
    assert "step 0 telegram: delivered" in timeline
    assert browser.find_elements(By.CSS_SELECTOR, "form.cancel") == []  # final: no cancel
    screenshot(browser, "3-timeline")

    # the undeliverable one says why, step by step
    browser.get(f"{stack.api_url}/console/messages/{nowhere}")
    timeline = wait(browser, lambda d: one(d, "table.timeline").text, "its timeline")
    assert "telegram passed over" in timeline
    assert "viber_bot passed over" in timeline

    # the funnel: Telegram delivered two and passed one over
    browser.get(f"{stack.api_url}/console/funnel?period=1h")
    telegram = wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, "tr[data-channel=telegram]"),
        "the funnel's Telegram row",
    )[0]
    counts = [td.text for td in telegram.find_elements(By.CSS_SELECTOR, "td.n")]
    assert counts[:5] == ["2", "0", "0", "1", "0"]  # delivered, sent, failed, skipped, pending
    assert telegram.find_elements(By.CSS_SELECTOR, "svg rect")
    screenshot(browser, "4-funnel")

    browser.get(f"{stack.api_url}/console/activity?period=1h")
    charts = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "figure.chart svg"), "charts")
    assert len(charts) == 2
    assert browser.find_elements(By.CSS_SELECTOR, "figure.chart rect")
    screenshot(browser, "5-activity")

    browser.get(f"{stack.api_url}/console/spend?period=1h")
    avoided = wait(browser, lambda d: one(d, "#avoided").text, "the spend figures")
    assert one(browser, "#paid").text == "0.004 EUR"  # two Telegram messages
    assert one(browser, "#all-sms").text == "0.062 EUR"
    assert avoided == "0.058 EUR"
    screenshot(browser, "6-spend")

    a_chat_answered(stack)
    browser.get(f"{stack.api_url}/console/chats")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#open-chats"), "the chats page")
    assert one(browser, "#open-chats").text == "1"
    assert one(browser, "#first-response").text != "—"  # answered: a time
    by_status = {
        row.find_element(By.CSS_SELECTOR, "th").text: row.find_element(By.CSS_SELECTOR, "td").text
        for row in browser.find_elements(By.CSS_SELECTOR, "table.chats tbody tr")
    }
    assert by_status["Open"] == "1"
    screenshot(browser, "7-chats")

    # the scheduled one is not final: cancel it from its page
    browser.get(f"{stack.api_url}/console/messages/{scheduled}")
    button = wait(
        browser, lambda d: d.find_elements(By.CSS_SELECTOR, "form.cancel button"), "cancel"
    )
    assert one(browser, "#message-status").text == "scheduled"
    button[0].click()
    wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#cancel-answer"),
        "the cancel's answer",
    )
    assert one(browser, "#message-status").text == "cancelled"
    assert browser.find_elements(By.CSS_SELECTOR, "form.cancel") == []
    assert stack.status(scheduled)["status"] == "cancelled"
    screenshot(browser, "8-cancelled")

    # signing out ends it: a page asks for sign-in again
    one(browser, "form.sign-out button").click()
    wait(browser, lambda d: "/console/sign-in" in d.current_url, "the sign-in page again")
    browser.get(f"{stack.api_url}/console/messages/{scheduled}")
    wait(browser, lambda d: "/console/sign-in" in d.current_url, "sign-in, once signed out")
