"""A whole Cascade installation as real processes on loopback, for end-to-end tests.

`build_stack` starts the Telegram and Viber simulators (`cascade simulate …`), migrates a
database (`cascade migrate`), creates an account (`cascade accounts create --json`),
registers one Telegram and one Viber bot (`cascade bots add …`), starts the API
(`cascade api`), points both bots' webhooks at it through the platforms' own calls
(`cascade bots webhook …`) and starts the workers (`cascade worker`). Every process
writes its output to a log file under the test's tmp directory, and `Stack.close` stops
every process it started, whatever happened before.

The helpers talk to the system only the way its users do: the simulators' `/_sim/` admin
API (a user starts the bot, shares the contact, blocks it), the public HTTP API (send,
status), and the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from cascade.clock import SystemClock
from cascade.simulators.telegram import chat_id_for
from cascade.store.sql import SqlStore
from tests.ports import free_port
from tests.threaded_server import ThreadedServer

FINAL = frozenset({"delivered", "read", "undeliverable", "expired", "cancelled"})
SEND = "/api/CascadeMessage/send_message/async"
SEND_TG_VIBER = "/api/CascadeMessage/send_message/tg-viber/async"
STATUS = "/api/CascadeMessage/status"

TELEGRAM_TOKEN = "123456:ABC_def-e2e-telegram-bot-token"
VIBER_TOKEN = "e2e-viber-bot-auth-token-0123456789"

_BOT_ID = re.compile(r"bot id: (\S+)")
T = TypeVar("T")


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


def base_env() -> dict[str, str]:
    """The test process's environment without any CASCADE_* setting of its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}


def _run_cli(args: list[list[str]], env: Mapping[str, str], timeout: float = 60) -> list[str]:
    """Run several `cascade …` commands at once; their stdouts, in order."""
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "cascade", *a],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for a in args
    ]
    outputs: list[str] = []
    failures: list[str] = []
    for a, process in zip(args, running, strict=True):
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            failures.append(f"cascade {' '.join(a)} timed out: {err}")
            continue
        if process.returncode != 0:
            failures.append(f"cascade {' '.join(a)} failed ({process.returncode}): {err}")
        outputs.append(out)
    if failures:
        raise AssertionError("\n".join(failures))
    return outputs


@dataclass
class Stack:
    """One running installation; build it with `build_stack`, always `close` it."""

    tmp: Path
    env: dict[str, str]
    database_url: str
    api_url: str = ""
    tg_url: str = ""
    vb_url: str = ""
    account_id: str = ""
    api_key: str = ""
    tg_bot_id: str = ""
    vb_bot_id: str = ""
    tg_token: str = TELEGRAM_TOKEN
    vb_token: str = VIBER_TOKEN
    procs: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    extra_tg_urls: list[str] = field(default_factory=list)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15))

    # --- processes ------------------------------------------------------------------------

    def spawn(self, name: str, args: list[str], env: Mapping[str, str] | None = None) -> Proc:
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "cascade", *args],
                env=dict(env if env is not None else self.env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so its children stop with it
            )
        proc = Proc(name, process, log)
        self.procs.append(proc)
        return proc

    def start_worker(self, name: str = "worker", wait: bool = True, **env: str) -> Proc:
        """A `cascade worker` process; `env` adds CASCADE_* settings (e.g. WORKER_LEASE_S)."""
        worker_env = dict(self.env)
        worker_env.update({f"CASCADE_{k.upper()}": v for k, v in env.items()})
        proc = self.spawn(name, ["worker"], worker_env)
        self.workers.append(proc)
        if wait:
            wait_for_log(proc, "worker ", " started")
        return proc

    def kill(self, proc: Proc) -> None:
        """SIGKILL: no cleanup, no flush, exactly like a crash."""
        proc.process.send_signal(signal.SIGKILL)
        proc.process.wait(timeout=10)

    def close(self) -> None:
        """Stop every process this stack started (newest first), then the HTTP client."""
        for proc in reversed(self.procs):
            _stop(proc.process)
        self.procs.clear()
        self.http.close()

    def cli(self, *args: str) -> str:
        return _run_cli([list(args)], self.env)[0]

    def logs(self) -> str:
        """Every process's log tail, for failure messages."""
        parts = []
        for proc in self.procs:
            parts.append(f"--- {proc.name} ---\n{proc.output()[-3000:]}")
        return "\n".join(parts)

    # --- simulated users ------------------------------------------------------------------

    def _sim_post(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        response = self.http.post(url, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def tg_user(self, phone: str, action: str) -> dict[str, Any]:
        """A Telegram user acts: start | share_contact | block | unblock."""
        result = self._sim_post(
            f"{self.tg_url}/_sim/users/{phone}/{action}", {"bot": self.tg_token}
        )
        assert result.get("delivered") is True, result  # the update reached Cascade
        assert result.get("webhook_status") == 200, result
        return result

    def vb_user(self, phone: str, action: str) -> dict[str, Any]:
        """A Viber user acts: subscribe | share_contact | unsubscribe."""
        result = self._sim_post(
            f"{self.vb_url}/_sim/users/{phone}/{action}", {"token": self.vb_token}
        )
        assert result.get("callback_status") == 200, result
        return result

    def onboard_telegram(self, phone: str) -> None:
        self.tg_user(phone, "start")
        self.tg_user(phone, "share_contact")

    def onboard_viber(self, phone: str) -> None:
        self.vb_user(phone, "subscribe")
        self.vb_user(phone, "share_contact")

    def script(self, platform: str, phone: str, **behaviour: Any) -> None:
        base = self.tg_url if platform == "telegram" else self.vb_url
        response = self.http.put(f"{base}/_sim/script/{phone}", json=behaviour)
        assert response.status_code in (200, 204), response.text

    def import_telegram_contacts(self, phones: Iterable[str]) -> None:
        """`cascade contacts import`: each phone's chat id is the simulator's user id."""
        path = self.tmp / "contacts.csv"
        lines = ["phone,channel,address"]
        lines += [f"{p},telegram,{chat_id_for(p)}" for p in phones]
        path.write_text("\n".join(lines) + "\n")
        self.cli("contacts", "import", str(path), "--account", self.account_id)

    # --- what the simulators received -----------------------------------------------------

    def tg_received(self, base: str | None = None) -> list[dict[str, Any]]:
        """Messages bots sent through the Bot API (not the bot's answers to webhooks)."""
        response = self.http.get(f"{base or self.tg_url}/_sim/received")
        assert response.status_code == 200
        return [r for r in response.json() if r["via"] == "api"]

    def vb_received(self, phone: str | None = None) -> list[dict[str, Any]]:
        params = {"phone": phone} if phone else {}
        response = self.http.get(f"{self.vb_url}/_sim/received", params=params)
        assert response.status_code == 200
        received: list[dict[str, Any]] = response.json()
        return received

    # --- the public API -------------------------------------------------------------------

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Authorization-Key": self.api_key, "Content-Type": "application/json"}

    def post_send(self, messages: list[dict[str, Any]], path: str = SEND) -> httpx.Response:
        return self.http.post(self.api_url + path, json=messages, headers=self.headers)

    def send(self, messages: list[dict[str, Any]], path: str = SEND) -> list[str]:
        """Send (array form); the messageIds, in order."""
        response = self.post_send(messages, path)
        assert response.status_code == 200, response.text
        return [item["messageId"] for item in response.json()]

    def send_one(self, phone: str, text: str, **fields: Any) -> str:
        message = {
            "id": f"e2e-{time.time_ns()}",
            "fromName": "Cascade e2e",
            "toPhone": phone,
            "messageType": "transaction",
            "text": text,
            **fields,
        }
        [message_id] = self.send([message])
        return message_id

    def status(self, message_id: str) -> dict[str, Any]:
        response = self.http.get(f"{self.api_url}{STATUS}/{message_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_status(
        self,
        message_id: str,
        until: Callable[[dict[str, Any]], bool],
        timeout: float = 60,
        what: str = "the expected status",
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.status(message_id)
            if until(shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{message_id} did not reach {what} in {timeout}s: {shown}\n{self.logs()}"
                )
            time.sleep(0.05)

    def wait_final(self, message_id: str, timeout: float = 60) -> dict[str, Any]:
        return self.wait_status(
            message_id, lambda s: s["status"] in FINAL, timeout, "a final status"
        )

    def statuses(self, message_ids: list[str], concurrency: int = 32) -> dict[str, dict[str, Any]]:
        """Many statuses through the API, fetched concurrently."""

        async def fetch_all() -> dict[str, dict[str, Any]]:
            gate = asyncio.Semaphore(concurrency)
            found: dict[str, dict[str, Any]] = {}
            async with httpx.AsyncClient(timeout=30, headers=self.headers) as client:

                async def one(message_id: str) -> None:
                    async with gate:
                        response = await client.get(f"{self.api_url}{STATUS}/{message_id}")
                    assert response.status_code == 200, response.text
                    found[message_id] = response.json()

                await asyncio.gather(*(one(m) for m in message_ids))
            return found

        return asyncio.run(fetch_all())

    # --- the database, read-only ----------------------------------------------------------

    def _read_store(self, read: Callable[[SqlStore], Awaitable[T]]) -> T:
        async def run() -> T:
            store = SqlStore(self.database_url, SystemClock(), pool_size=1)
            try:
                return await read(store)
            finally:
                await store.close()

        return asyncio.run(run())

    def pending_tasks(self) -> int:
        """Messages not yet final (each has exactly one task row until it ends)."""
        return self._read_store(lambda store: store.pending_tasks())

    def open_tasks(self, message_ids: Iterable[str]) -> set[str]:
        """Which of these messages still have a task row (due, or held under a lease)."""
        ids = list(message_ids)
        return self._read_store(lambda store: store.open_tasks(ids))

    def wait_settled(
        self, message_ids: Iterable[str], timeout: float = 30
    ) -> dict[str, dict[str, Any]]:
        """Wait until the engine can send nothing more for these messages; their statuses.

        Settled: each message's status is final, none of its attempts is `sending`, and
        its task row is gone. Why that is enough: a send leaves only from a job a worker
        built from a claimed task, and the task stays (held by the claim's lease) until
        the send's result is committed; the transition that makes a message final
        deletes its task in the same transaction, and reports and cancels that would end
        it wait while a lease holds it. With no task row nothing can claim the message
        again, and no job of it is under way. The SMPP session never resubmits (a submit
        is sent inside its job only), and every simulator records what it takes before
        it answers, so what a settled message sent is already in the simulators' logs.

        Not covered: a job whose lease ran out before its send left (one held longer
        than WORKER_LEASE_S, e.g. by the per-chat pacing) still sends, as the intent's
        commit does not check the lease; the tests here send a few messages per chat
        under the default 30 s lease. A send left in doubt (an `unknown` attempt: its
        request may have left without an answer) can still reach its provider late, and
        no wait proves otherwise: such a message fails this wait rather than let a count
        after it pass by luck.
        """
        ids = list(message_ids)
        deadline = time.monotonic() + timeout
        while True:
            shown = {m: self.status(m) for m in ids}
            unsettled = {
                m
                for m, s in shown.items()
                if s["status"] not in FINAL or any(a["status"] == "sending" for a in s["attempts"])
            } | self.open_tasks(ids)
            if not unsettled:
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not settled in {timeout}s: {[shown[m] for m in sorted(unsettled)]}\n"
                    f"{self.logs()}"
                )
            time.sleep(0.05)
        in_doubt = [
            s for s in shown.values() if any(a["status"] == "unknown" for a in s["attempts"])
        ]
        assert not in_doubt, f"a send in doubt may still reach its provider: {in_doubt}"
        return shown

    def wait_all_final(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (left := self.pending_tasks()) > 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"{left} messages still not final\n{self.logs()}")
            time.sleep(0.2)


def wait_for_log(proc: Proc, *parts: str, timeout: float = 30) -> None:
    """Wait until one line of the process's output contains every part."""
    deadline = time.monotonic() + timeout
    while True:
        if any(all(p in line for p in parts) for line in proc.output().splitlines()):
            return
        if not proc.alive():
            raise AssertionError(f"{proc.name} exited early:\n{proc.output()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{proc.name} did not log {parts} in {timeout}s:\n{proc.output()}")
        time.sleep(0.05)


def wait_http(proc: Proc, url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not proc.alive():
            raise AssertionError(f"{proc.name} exited early:\n{proc.output()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{proc.name} not up at {url} in {timeout}s:\n{proc.output()}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    # the server's own children (granian's workers), if any outlived it
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
    process.wait()


def build_stack(
    tmp: Path,
    *,
    database_url: str | None = None,
    settings: Mapping[str, str] | None = None,
    workers: int = 1,
    telegram_rate_limits: bool = True,
    extra_telegram_sims: int = 0,
) -> Stack:
    """Start everything; on any failure stop what was started and re-raise.

    `settings` are CASCADE_* variables without the prefix (e.g. {"VIBER_BOT_WINDOW_S": "4"}),
    given to every Cascade process. `extra_telegram_sims` starts more Telegram simulators
    (their URLs in `stack.extra_tg_urls`), for workers pointed at a simulator of their own.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    env = base_env()
    url = database_url or f"sqlite:///{tmp / 'cascade.db'}"
    api_port, tg_port, vb_port = free_port(), free_port(), free_port()
    env.update(
        {
            "CASCADE_DATABASE_URL": url,
            "CASCADE_SQLITE_SYNCHRONOUS": "NORMAL",
            "CASCADE_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
            "CASCADE_TELEGRAM_API_URL": f"http://127.0.0.1:{tg_port}",
            "CASCADE_VIBER_API_URL": f"http://127.0.0.1:{vb_port}",
            "CASCADE_LOG_LEVEL": "info",
            # the stack runs these two platforms' simulators only; other channels are off
            "CASCADE_CHANNELS": "telegram,viber_bot",
            # The tests read thousands of statuses; the default 50/s per account would
            # make them wait, and rate limiting is not what they are about.
            "CASCADE_STATUS_RATE": "100000",
            "CASCADE_STATUS_BURST": "100000",
            # the tests' status-webhook receivers listen on loopback
            "CASCADE_ALLOW_PRIVATE_CALLBACKS": "1",
        }
    )
    env.update({f"CASCADE_{k.upper()}": v for k, v in (settings or {}).items()})
    stack = Stack(tmp=tmp, env=env, database_url=url)
    stack.api_url = env["CASCADE_PUBLIC_URL"]
    stack.tg_url = env["CASCADE_TELEGRAM_API_URL"]
    stack.vb_url = env["CASCADE_VIBER_API_URL"]
    try:
        tg_args = ["simulate", "telegram", "--port", str(tg_port)]
        if not telegram_rate_limits:
            tg_args.append("--no-rate-limits")
        sims = [
            (stack.spawn("telegram-sim", tg_args), stack.tg_url),
            (
                stack.spawn(
                    "viber-sim",
                    ["simulate", "viber", "--port", str(vb_port), "--bot", VIBER_TOKEN],
                ),
                stack.vb_url,
            ),
        ]
        for n in range(extra_telegram_sims):
            port = free_port()
            args = ["simulate", "telegram", "--port", str(port)]
            if not telegram_rate_limits:
                args.append("--no-rate-limits")
            extra_url = f"http://127.0.0.1:{port}"
            sims.append((stack.spawn(f"telegram-sim-{n + 2}", args), extra_url))
            stack.extra_tg_urls.append(extra_url)

        stack.cli("migrate")
        api = stack.spawn("api", ["api", "--host", "127.0.0.1", "--port", str(api_port)])
        created = json.loads(stack.cli("accounts", "create", "e2e", "--json"))
        stack.account_id, stack.api_key = created["accountId"], created["apiKey"]
        tg_out, vb_out = _run_cli(
            [
                ["bots", "add", "telegram", TELEGRAM_TOKEN, "--account", stack.account_id],
                ["bots", "add", "viber", VIBER_TOKEN, "--account", stack.account_id],
            ],
            env,
        )
        stack.tg_bot_id = _bot_id(tg_out)
        stack.vb_bot_id = _bot_id(vb_out)

        for proc, sim_url in sims:
            wait_http(proc, f"{sim_url}/_sim/received")
        wait_http(api, f"{stack.api_url}/readyz")
        # Viber checks the URL with a signed callback before accepting it: the API is up.
        _run_cli([["bots", "webhook", stack.tg_bot_id], ["bots", "webhook", stack.vb_bot_id]], env)
        for n in range(workers):
            stack.start_worker(f"worker-{n + 1}")
    except BaseException:
        stack.close()
        raise
    return stack


def _bot_id(output: str) -> str:
    found = _BOT_ID.search(output)
    assert found, output
    return found.group(1)


# --- every channel: Viber Business, RCS, an SMSC and flash calls as well ------------------------

ALL_CHANNELS = "telegram,viber_bot,viber_business,rcs,sms,flashcall"

# Provider accounts the simulators accept, worth nothing anywhere else.
VONAGE_KEY = "e2e-vonage-key"
VONAGE_SECRET = "e2e-vonage-secret"
VONAGE_SERVICE_ID = "CascadeE2E"
VONAGE_SIGNATURE_SECRET = "e2e-vonage-signature-secret"
RBM_AGENT = "cascade-e2e-agent"
RBM_ACCOUNT = "cascade-e2e@rbm-sim.iam.gserviceaccount.com"
RBM_CLIENT_TOKEN = "E2ERBMCLIENTTOKEN"
SMPP_SYSTEM_ID = "cascade"
SMPP_PASSWORD = "e2e-smpp"
SMS_SENDER = "380500000000"
TWILIO_SID = "AC" + "e2e0" * 8
TWILIO_TOKEN = "e2e-twilio-auth-token"
CALLER_PREFIX = "+44207946"


@dataclass
class ChannelStack(Stack):
    """A `Stack` running all six channels, each against its simulator (`build_channel_stack`)."""

    vbiz_url: str = ""  # Vonage Messages API (Viber Business)
    rcs_url: str = ""  # RBM API and its token endpoint (in this process)
    smsc_url: str = ""  # the SMSC's /_sim/ admin API (SMPP is on smpp_port)
    smpp_port: int = 0
    twilio_url: str = ""  # Twilio Programmable Voice (flash calls)
    rcs_server: ThreadedServer | None = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.rcs_server is not None:
                self.rcs_server.stop()
                self.rcs_server = None

    def _sim_url(self, platform: str) -> str:
        return {
            "telegram": self.tg_url,
            "viber": self.vb_url,
            "viber_business": self.vbiz_url,
            "rcs": self.rcs_url,
            "sms": self.smsc_url,
            "flashcall": self.twilio_url,
        }[platform]

    def script_on(self, platform: str, phone: str, **behaviour: Any) -> None:
        """Script a phone on any simulator: telegram, viber, viber_business, rcs, sms,
        flashcall (a `Behaviour` as keyword arguments)."""
        url = f"{self._sim_url(platform)}/_sim/script/{phone}"
        response = self.http.put(url, json=behaviour)
        assert response.status_code in (200, 204), response.text

    def sim_get(self, platform: str, what: str, **params: str) -> list[dict[str, Any]]:
        """GET a simulator's `/_sim/{what}` (received, parts, receipts, callbacks, events…)."""
        response = self.http.get(f"{self._sim_url(platform)}/_sim/{what}", params=params)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    def sms_received(self, phone: str | None = None) -> list[dict[str, Any]]:
        """Whole messages the SMSC took (parts put back together), oldest first."""
        return [r for r in self.sim_get("sms", "received") if phone in (None, r["phone"])]

    def verify(self, message_id: str, code: str) -> httpx.Response:
        return self.http.post(
            f"{self.api_url}/api/CascadeMessage/verify",
            json={"messageId": message_id, "code": code},
            headers=self.headers,
        )


def build_channel_stack(
    tmp: Path,
    *,
    window_s: int = 3,
    settings: Mapping[str, str] | None = None,
    workers: int = 1,
) -> ChannelStack:
    """`build_stack` with every channel on: the Viber Business, SMSC and flash-call
    simulators as `cascade simulate …` processes, the RBM simulator in this process (with
    a service account registered, its key in a file for CASCADE_RCS_SERVICE_ACCOUNT_FILE),
    the provider webhooks pointed at the API the way an operator does in the providers'
    consoles, and `window_s` as every channel's delivery window. Recipients follow the
    sandbox personas by their last digit unless a test scripts them."""
    from cascade.simulators import rcs as rcs_sim

    tmp.mkdir(parents=True, exist_ok=True)
    key, public_pem = rcs_sim.new_service_account(RBM_ACCOUNT)
    rcs_server = ThreadedServer(
        rcs_sim.create_app(agents=(RBM_AGENT,), service_accounts={RBM_ACCOUNT: public_pem})
    )
    rcs_url = rcs_server.start()
    key["token_uri"] = f"{rcs_url}/token"
    key_file = tmp / "rbm-service-account.json"
    key_file.write_text(json.dumps(key))
    vbiz_port, smpp_port, smsc_port, twilio_port = (free_port() for _ in range(4))
    merged = {
        "CHANNELS": ALL_CHANNELS,
        "VIBER_BOT_WINDOW_S": str(window_s),
        "VIBER_BUSINESS_WINDOW_S": str(window_s),
        "RCS_WINDOW_S": str(window_s),
        "SMS_WINDOW_S": str(window_s),
        "VIBER_BUSINESS_API_URL": f"http://127.0.0.1:{vbiz_port}",
        "VIBER_BUSINESS_API_KEY": VONAGE_KEY,
        "VIBER_BUSINESS_API_SECRET": VONAGE_SECRET,
        "VIBER_BUSINESS_SERVICE_ID": VONAGE_SERVICE_ID,
        "VIBER_BUSINESS_SIGNATURE_SECRET": VONAGE_SIGNATURE_SECRET,
        "RCS_API_URL": f"{rcs_url}/v1",
        "RCS_AGENT_ID": RBM_AGENT,
        "RCS_SERVICE_ACCOUNT_FILE": str(key_file),
        "RCS_TOKEN_URI": f"{rcs_url}/token",
        "RCS_CLIENT_TOKEN": RBM_CLIENT_TOKEN,
        "SMPP_HOST": "127.0.0.1",
        "SMPP_PORT": str(smpp_port),
        "SMPP_SYSTEM_ID": SMPP_SYSTEM_ID,
        "SMPP_PASSWORD": SMPP_PASSWORD,
        "SMS_SENDER": SMS_SENDER,
        "FLASHCALL_API_URL": f"http://127.0.0.1:{twilio_port}",
        "FLASHCALL_ACCOUNT_SID": TWILIO_SID,
        "FLASHCALL_AUTH_TOKEN": TWILIO_TOKEN,
        "FLASHCALL_CALLER_PREFIX": CALLER_PREFIX,
        **(settings or {}),
    }
    try:
        base = build_stack(tmp, settings=merged, workers=0)
    except BaseException:
        rcs_server.stop()
        raise
    stack = ChannelStack(
        **{f.name: getattr(base, f.name) for f in dataclasses.fields(Stack)},
        vbiz_url=f"http://127.0.0.1:{vbiz_port}",
        rcs_url=rcs_url,
        smsc_url=f"http://127.0.0.1:{smsc_port}",
        smpp_port=smpp_port,
        twilio_url=f"http://127.0.0.1:{twilio_port}",
        rcs_server=rcs_server,
    )
    try:
        simulators = {
            "viber-business-sim": (
                ["viber_business", "--port", str(vbiz_port)],
                f"{VONAGE_KEY}:{VONAGE_SECRET}",
                stack.vbiz_url,
            ),
            "smsc-sim": (
                ["sms", "--port", str(smpp_port), "--admin-port", str(smsc_port)],
                f"{SMPP_SYSTEM_ID}:{SMPP_PASSWORD}",
                stack.smsc_url,
            ),
            "twilio-sim": (
                ["flashcall", "--port", str(twilio_port)],
                f"{TWILIO_SID}:{TWILIO_TOKEN}",
                stack.twilio_url,
            ),
        }
        started = [
            (stack.spawn(name, ["simulate", *args, "--account", account]), url)
            for name, (args, account, url) in simulators.items()
        ]
        for proc, url in started:
            wait_http(proc, f"{url}/_sim/received")
        # What an operator does in Vonage's dashboard and the RBM console.
        answer = stack.http.post(
            f"{stack.vbiz_url}/_sim/webhook",
            json={
                "url": f"{stack.api_url}/webhooks/viber_business/viber_business",
                "signature_secret": VONAGE_SIGNATURE_SECRET,
            },
        )
        assert answer.status_code == 200, answer.text
        answer = stack.http.post(
            f"{rcs_url}/_sim/webhook",
            json={"url": f"{stack.api_url}/webhooks/rcs/rcs", "clientToken": RBM_CLIENT_TOKEN},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["verified"] is True, answer.text
        for n in range(workers):
            worker = stack.start_worker(f"worker-{n + 1}")
            wait_for_log(worker, "SMPP transceiver bound")
    except BaseException:
        stack.close()
        raise
    return stack
