"""A real browser for the operator chat panel's tests: Debian's chromium driven through
chromium-driver by Selenium, and a page served from another loopback origin.

`make install-test` installs both packages. Where the browser cannot start, a test is
skipped on a developer's machine and FAILS in CI (`CI=true`): a browser test that quietly
does not run would pass the widget unseen.
"""

from __future__ import annotations

import html
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.shadowroot import ShadowRoot
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")

WAIT_S = 15.0
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,760",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "widget"
SCRIPT_PATH = "/widget/operator-chat-panel/widget-script.js"


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser tests need chromium and chromium-driver: {why}")
    pytest.skip(f"no browser: {why} (make install-test installs chromium and chromium-driver)")


@contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile; the browser's console is kept."""
    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver_path is None:
        _unavailable("chromium or chromedriver is not on PATH")
    options = Options()
    options.binary_location = str(binary)
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(
            service=Service(executable_path=str(driver_path)), options=options
        )
    except WebDriverException as err:
        _unavailable(f"chromium did not start: {err.msg}")
        raise
    try:
        yield driver
    finally:
        driver.quit()


def page_html(script_src: str, token: str) -> str:
    """A host page: another application's, with the widget's one script tag in it. It
    records any `alert` and uncaught error, for the tests to read."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CRM — operator desk</title>
<link rel="icon" href="data:,">
<script>
  window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));
  window.__errors = [];
  addEventListener("error", (e) => window.__errors.push(String(e.message)));
  addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason)));
</script>
<style>body {{ font-family: serif; margin: 16px; }} #desk {{ height: 640px; }}</style>
</head><body>
<h1>Another site's page</h1>
<div id="desk">
<script type="module" id="operator-chat-panel-script"
        src="{html.escape(script_src)}" token="{html.escape(token)}"></script>
</div>
</body></html>"""


@contextmanager
def page_server(body: str) -> Iterator[str]:
    """`body` at `/` of a server on its own loopback port: an origin other than Cascade's."""
    page = body.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="page-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def wait(driver: webdriver.Chrome, until: Callable[[webdriver.Chrome], T], what: str) -> T:
    """Wait for a condition; on timeout the failure says what was awaited, and the
    browser's console."""
    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(until)
    except Exception as err:
        raise AssertionError(f"waited {WAIT_S}s for {what}\n{console(driver)}") from err


def console(driver: webdriver.Chrome) -> str:
    try:
        logs = driver.get_log("browser")
    except WebDriverException:
        return "(no browser console)"
    return "\n".join(f"{e['level']}: {e['message']}" for e in logs) or "(browser console empty)"


class Panel:
    """The <operator-chat-panel> element of a page, read through its open shadow root."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    @property
    def host(self) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, "operator-chat-panel")

    @property
    def root(self) -> ShadowRoot:
        return self.host.shadow_root

    def all(self, selector: str) -> list[WebElement]:
        return self.root.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector: str) -> WebElement:
        return self.root.find_element(By.CSS_SELECTOR, selector)

    def state(self) -> str | None:
        return self.host.get_attribute("data-state")

    def wait_state(self, state: str) -> None:
        wait(self.driver, lambda _: self.state() == state, f"the panel to be {state}")

    def chat(self, chat_id: int | str) -> WebElement | None:
        found = self.all(f'li.chat[data-chat-id="{chat_id}"]')
        return found[0] if found else None

    def wait_chat(self, chat_id: int | str) -> WebElement:
        return wait(self.driver, lambda _: self.chat(chat_id), f"chat {chat_id} in the list")

    def messages(self) -> list[WebElement]:
        return self.all("ol.messages li.message")

    def sent_replies(self) -> list[WebElement]:
        """The operator's messages the platform accepted (Sent or Read)."""
        return [
            m
            for m in self.messages()
            if m.get_attribute("data-author") == "operator"
            and m.get_attribute("data-status") in ("1", "3")
        ]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path
