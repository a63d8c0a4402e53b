"""No secret is ever logged: the whole gateway (`cascade up`: API, engine, webhook
dispatcher, simulators) at DEBUG with JSON logs, driven through a realistic flow with
every kind of secret it holds — API keys, bot tokens and their webhook secret, the demo
login's password, the JWT signing key and a company token, a status webhook's signing
secret, a wrong key a client tried — and its whole log output searched for each."""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from cascade.channels.flashcall import demo as flashcall_demo
from cascade.channels.viber_business import demo as viber_business_demo
from tests.conftest import cascade_cli, wait_until_up
from tests.ports import free_port, free_ports

pytestmark = pytest.mark.live

SEND = "/api/CascadeMessage/send_message/async"
STATUS = "/api/CascadeMessage/status"
FINAL = {"delivered", "read", "undeliverable", "expired", "cancelled"}


class Hooks(BaseHTTPRequestHandler):
    """A status-webhook receiver: keeps every signed body it is sent."""

    received: list[tuple[str, bytes]] = []  # noqa: RUF012 - one server per test

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hooks.received.append((self.headers["X-Cascade-Signature"], body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[str]:
    Hooks.received = []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Hooks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()
    thread.join()


def wait_for(what: str, check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def test_a_debug_run_logs_no_secret(tmp_path: Path, receiver: str) -> None:
    db = tmp_path / "cascade.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
    secrets = {
        "demo key": "demo-key-" + uuid.uuid4().hex,
        "demo password": "pw-" + uuid.uuid4().hex,
        "JWT secret": "jwt-" + uuid.uuid4().hex + uuid.uuid4().hex,
        # the providers' credentials the demo configures against its simulators
        "voice provider's auth token": flashcall_demo.AUTH_TOKEN,
        "Viber Business API secret": viber_business_demo.SECRET,
        "Viber Business signature secret": viber_business_demo.SIGNATURE_SECRET,
    }
    env |= {
        "CASCADE_DATABASE_URL": f"sqlite:///{db}",
        "CASCADE_SQLITE_SYNCHRONOUS": "NORMAL",
        "CASCADE_LOG_LEVEL": "debug",
        "CASCADE_LOG_FORMAT": "json",
        "CASCADE_DEMO_KEY": secrets["demo key"],
        "CASCADE_DEMO_PASSWORD": secrets["demo password"],
        "CASCADE_JWT_SECRET": secrets["JWT secret"],
        "CASCADE_ALLOW_PRIVATE_CALLBACKS": "1",  # the receiver is on loopback
    }
    port, sim_port = free_port(), free_ports(8)
    base = f"http://127.0.0.1:{port}"
    stdout, stderr = tmp_path / "up.out", tmp_path / "up.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        up = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cascade",
                "up",
                *("--host", "127.0.0.1"),
                *("--port", str(port)),
                *("--sim-port", str(sim_port)),
            ],
            env=env,
            stdout=out,
            stderr=err,
        )
    http = httpx.Client(base_url=base, timeout=30)
    try:
        wait_until_up(base + "/healthz", up, output=stderr.read_text)
        wait_for("the banner", lambda: "demo account:" in stdout.read_text())
        account = stdout.read_text().split("demo account:")[1].split()[0]
        with sqlite3.connect(db) as conn:
            bots = list(conn.execute("SELECT channel, token, webhook_secret FROM bots"))
        for channel, token, webhook_secret in bots:
            secrets[f"{channel} bot token"] = token
            secrets[f"{channel} webhook secret"] = webhook_secret
        telegram_token = next(token for channel, token, _ in bots if channel == "telegram")
        hook = cascade_cli("callbacks", "add", receiver, "--account", account, env=env)
        secrets["status webhook secret"] = hook.split("secret:")[1].split()[0]
        made = json.loads(cascade_cli("keys", "create", "--account", account, "--json", env=env))
        secrets["second API key"] = made["apiKey"]
        secrets["a wrong key a client tried"] = "wrong-" + uuid.uuid4().hex

        keyed = {"X-Authorization-Key": secrets["demo key"]}
        ids: list[str] = []
        for n, digit in enumerate("12379"):
            message = {
                "id": f"secret-test-{n}",
                "fromName": "Shop",
                "toPhone": f"+38050123000{digit}",
                "messageType": "transaction",
                "text": f"Hello {n}",
            }
            sent = http.post(SEND, json=[message], headers=keyed)
            assert sent.status_code == 200, sent.text
            ids.append(sent.json()[0]["messageId"])
        call = {"id": "call", "toPhone": "+380501230009", "messageType": "flashcall"}
        called = http.post(SEND, json={"messages": [call]}, headers=keyed)
        assert called.status_code == 200, called.text
        ids.append(called.json()[0]["messageId"])
        by_bot = http.post(
            SEND,
            json=[
                {
                    "id": "by-bot",
                    "fromName": "Shop",
                    "toPhone": "+380501230001",
                    "messageType": "transaction",
                    "text": "Through the bot's own key",
                }
            ],
            headers={"X-Tg-Bot-Key": telegram_token, "X-Authorization-Key": made["apiKey"]},
        )
        assert by_bot.status_code == 200, by_bot.text
        wrong = http.post(
            SEND, json=[], headers={"X-Authorization-Key": secrets["a wrong key a client tried"]}
        )
        assert wrong.status_code == 401
        basic = base64.b64encode(f"demo:{secrets['demo password']}".encode()).decode()
        listed = http.post(
            "/bat/messagelist",
            json={
                "messages": [{"from": "Shop", "to": "+380501230006", "type": "sms", "text": "Hi"}]
            },
            headers={"Authorization": f"Basic {basic}"},
        )
        assert listed.status_code == 200, listed.text
        token = http.post(
            "/api/company/get-token",
            json={"login": "demo", "password": secrets["demo password"]},
        )
        assert token.status_code == 200, token.text
        secrets["company token"] = token.json()["token"]
        chats = http.get(
            "/api/chat/chats", headers={"Authorization": f"Bearer {secrets['company token']}"}
        )
        assert chats.status_code == 200, chats.text

        def all_final() -> bool:
            shown = [http.get(f"{STATUS}/{i}", headers=keyed).json()["status"] for i in ids]
            return all(status in FINAL for status in shown)

        wait_for("every message to end", all_final)
        wait_for("a signed status webhook", lambda: len(Hooks.received) >= len(ids))
        channels = {http.get(f"{STATUS}/{i}", headers=keyed).json()["channel"] for i in ids}
        assert {"telegram", "viber_bot", "viber_business", "flashcall"} <= channels
    finally:
        http.close()
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()

    logged = stderr.read_text()
    lines = [json.loads(line) for line in logged.splitlines()]  # every line one JSON object
    assert any(line["level"] == "debug" for line in lines)
    about = {line.get("message_id") for line in lines}
    assert set(ids) <= about  # the lines about each message name it
    assert len(secrets) >= 10
    for name, value in secrets.items():
        assert value not in logged, f"the {name} is in the log"
    # the banner, on stdout, is the only place the demo's key and password are shown
    assert secrets["demo key"] in stdout.read_text()
