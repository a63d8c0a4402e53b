"""Cascade against Kannel: HTTP -> SMPP end to end, the same load in the same run (issue 14).

Both gateways get the same single-message HTTP requests from one load generator and
submit to the same kind of independent SMPP sink, a fresh `bench/recording_smsc.py` per
run (no Cascade code, not Cascade's simulator), which answers every `submit_sm` and
records it. What is counted is what the sink took. The sink runs `--engine codec` by
default: its own asyncio sessions with every `submit_sm` decoded and every receipt
encoded by the `smpp34` package's codec, about 0.02 ms of CPU per submit. The library's
own server (`--sink-engine server`) takes about 0.2 ms per submit and stops near 4,000
submits/s on the two-core machine, below Kannel's rate: it would measure the sink.

- **Kannel** (Debian's `kannel` package, `bearerbox` + `smsbox`): a `kannel.conf`
  generated into a temporary directory, one SMPP transceiver (`--kannel-binds`) to the
  sink with `max-pending-submits` = `--smpp-window`, no store (`store-type` and
  `store-location` unset), no `dlr-mask`: the sink is asked for no receipt. The load is
  `GET /cgi-bin/sendsms?username=...&password=...&from=...&to=...&text=...` on smsbox's
  sendsms port; an answer 202 is an accept.
- **Cascade**: `cascade api` plus `--workers` `cascade worker` processes on a scratch
  database (`--db sqlite|postgresql`), the SMS channel only with its rate limits off,
  `CASCADE_SMPP_WINDOW` = `--smpp-window`, receipts on: every submit asks for one and the
  sink sends `DELIVRD` `--receipt-delay-ms` later, which Cascade records. The load is
  `POST /api/CascadeMessage/send_message/async` with one item; an answer 200 is an accept.

The load: `--messages` requests of one message each, message n to the same phone with the
same 34-character text for both (`Bench 000042: your code is 332598.`), over
`--connections` keep-alive HTTP/1.1 connections, opened before the clock starts (a small
client of its own on asyncio streams and uvloop, to keep its CPU small on a two-core
machine; it is reported). Closed loop by default (each connection sends its next request
when the last is answered);
`--rate R` offers message i at start + i / R instead (open loop; latency then counts
from the due time, so queueing in the client shows). A request that fails is counted,
not retried.

Figures per system: HTTP accepted/s (accepts over first request to last answer), HTTP
latency, errors; at the sink: distinct messages taken, duplicates, submits/s over its
first to last submit, and end to end = distinct messages / (first accept to last submit
at the sink), the headline, compared as Cascade / Kannel. For Cascade also first accept to
the last receipt recorded in its database. `--rounds N` runs N pairs, Kannel first in odd
rounds and Cascade first in even ones, each on fresh processes, sink and database.

This script installs nothing. Kannel comes from Debian's package:

    apt-get install -y kannel     # bearerbox and smsbox in /usr/sbin; the service the
                                  # package sets up is not used (nor needs to run)

    .venv/bin/python bench/peer_kannel.py --messages 20000 --rounds 2
    .venv/bin/python bench/peer_kannel.py --messages 20000 --rounds 2 --db postgresql

Both gateways run with the same SMPP window (`--smpp-window`, default 10: both products'
default); Kannel with one bind, Cascade with one a worker. CPU is counted per process
(bearerbox, smsbox; api, workers and the database's PostgreSQL backends), for the sink, the
load generator and the rest of the machine (other sessions' work), over first request to
the end of the wait (for Cascade: until every message is final, its receipt recorded).

Loopback only; every process it starts is stopped at the end. The exit status is 2 when
Kannel is not installed, 1 when a system lost, doubled or garbled a message it had
accepted, else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import psutil
from common import (
    CASCADE,
    SEND_PATH,
    SMS_PHONES,
    Conditions,
    Item,
    _cli,
    _die_with_parent,
    _exit_on_sigterm,
    busy_seconds,
    cpu_seconds,
    free_port,
    install_uvloop,
    log_dir,
    machine_rows,
    own_cpu_seconds,
    percentile,
    query,
    scratch_database,
    table,
    wait_http,
)

BENCH = Path(__file__).resolve().parent
SYSTEM_ID, PASSWORD = "bench", "bench"  # the sink serves this system_id only
SENDER = "Bench"
MARK = re.compile(r"^Bench (\d{6}): ")
INSTALL_HINT = (
    "Kannel is not installed: bearerbox and smsbox are not on PATH (nor in /usr/sbin).\n"
    "This benchmark installs nothing itself. Install Debian's package and run it again:\n"
    "    sudo apt-get install -y kannel\n"
    "(the kannel service the package sets up need not run: the benchmark starts its own\n"
    "bearerbox and smsbox with a kannel.conf it generates, on free loopback ports)"
)


# --- the load: the same messages for both gateways -----------------------------------------


def phone(n: int) -> str:
    return SMS_PHONES[n % len(SMS_PHONES)]


def text(n: int) -> str:
    """34 characters for every n below 1,000,000, unique by n (the sink reads n back)."""
    return f"{SENDER} {n:06d}: your code is {n * 7919 % 1_000_000:06d}."


def kannel_request(port: int, n: int) -> bytes:
    params = urllib.parse.urlencode(
        {
            "username": SYSTEM_ID,
            "password": PASSWORD,
            "from": SENDER,
            "to": phone(n),
            "text": text(n),
        }
    )
    return f"GET /cgi-bin/sendsms?{params} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def cascade_request(port: int, api_key: str, n: int) -> bytes:
    body = msgspec.json.encode(
        [
            Item(
                id=f"bench-{n}",
                fromName=SENDER,
                toPhone=phone(n),
                messageType="transaction",
                text=text(n),
            )
        ]
    )
    head = (
        f"POST {SEND_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"X-Authorization-Key: {api_key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Load:
    """What the load generator saw. Times are `time.time()` seconds (the sink's clock)."""

    requests: int = 0
    accepted: bytearray = field(default_factory=bytearray)  # 1 at n when n was accepted
    refused: Counter[int] = field(default_factory=Counter)  # HTTP status other than the accept
    errors: Counter[str] = field(default_factory=Counter)  # no answer: why
    latencies: list[float] = field(default_factory=list)  # s, of the accepts
    first_sent: float = 0.0
    first_accept: float = float("inf")
    last_answer: float = 0.0
    worst_lag_s: float = 0.0  # open loop: furthest behind its due time a request was sent

    @property
    def accepts(self) -> int:
        return sum(self.accepted)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, connection closes) of one HTTP/1.1 response, its body read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, close = 0, False
    for line in head.lower().split(b"\r\n")[1:]:
        if line.startswith(b"content-length:"):
            length = int(line[15:])
        elif line.startswith(b"connection:") and b"close" in line:
            close = True
        elif line.startswith(b"transfer-encoding:"):
            raise ValueError("chunked answers are not read by this client")
    if length:
        await reader.readexactly(length)
    return status, close


async def drive(
    port: int, requests: list[bytes], accept_status: int, args: argparse.Namespace
) -> Load:
    """Send every request once over `args.connections` keep-alive connections."""
    load = Load(requests=len(requests), accepted=bytearray(len(requests)))
    clock = time.perf_counter
    epoch = time.time() - clock()  # perf_counter -> time.time()
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    opened, go = asyncio.Semaphore(0), asyncio.Event()

    async def connection() -> None:
        # opened before the clock starts: no connection set-up in the figures
        reader: asyncio.StreamReader | None
        writer: asyncio.StreamWriter | None
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        opened.release()
        await go.wait()
        while (item := await queue.get()) is not None:
            n, due = item
            sent = clock()
            if due < 0:  # closed loop: from the moment it is sent
                due = sent
            load.worst_lag_s = max(load.worst_lag_s, sent - due)
            try:
                async with asyncio.timeout(args.request_timeout_s):
                    if writer is None or reader is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(requests[n])
                    status, close = await _answer(reader)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as error:
                load.errors[type(error).__name__] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            done = clock()
            load.last_answer = max(load.last_answer, epoch + done)
            if status == accept_status:
                load.accepted[n] = 1
                load.latencies.append(done - due)
                load.first_accept = min(load.first_accept, epoch + done)
            else:
                load.refused[status] += 1
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    connections = [asyncio.ensure_future(connection()) for _ in range(args.connections)]
    for _ in connections:
        await opened.acquire()
    started = clock()
    load.first_sent = epoch + started
    go.set()
    if args.rate:
        for n in range(len(requests)):
            due = started + n / args.rate
            wait = due - clock()
            if wait > 0:
                await asyncio.sleep(wait)
            queue.put_nowait((n, due))
    else:
        for n in range(len(requests)):
            queue.put_nowait((n, -1.0))
    for _ in connections:
        queue.put_nowait(None)
    await asyncio.gather(*connections)
    return load


def run_load(
    port: int, requests: list[bytes], accept_status: int, args: argparse.Namespace
) -> Load:
    return asyncio.run(drive(port, requests, accept_status, args))


# --- the sink ------------------------------------------------------------------------------


@dataclass
class Sink:
    port: int
    admin: int
    proc: psutil.Process | None = None

    def get(self, what: str) -> Any:
        url = f"http://127.0.0.1:{self.admin}/{what}"
        with urllib.request.urlopen(url, timeout=60) as got:
            return json.loads(got.read())

    def stats(self) -> dict[str, int]:
        return dict(self.get("stats"))


@contextlib.contextmanager
def sink_process(args: argparse.Namespace, logs: Path, name: str) -> Iterator[Sink]:
    sink = Sink(free_port(), free_port())
    command = [
        sys.executable, str(BENCH / "recording_smsc.py"), "--port", str(sink.port),
        "--admin-port", str(sink.admin), "--system-id", SYSTEM_ID,
        "--receipt-delay-ms", str(args.receipt_delay_ms),
        "--receipt-window", str(args.receipt_window), "--engine", args.sink_engine,
    ]  # fmt: skip
    with started(command, dict(os.environ), logs / f"{name}-sink.log") as proc:
        wait_http(f"http://127.0.0.1:{sink.admin}/stats")
        sink.proc = psutil.Process(proc.pid)
        yield sink


@dataclass
class SinkCount:
    taken: int
    distinct: int
    duplicates: int  # extra copies of messages taken more than once
    garbled: int  # not the text or destination that was sent for its n
    unmarked: int  # no message of this load
    not_accepted: int  # taken, though its request was not answered as accepted
    missing: int  # accepted, never taken
    first_ms: int
    last_ms: int
    receipts_asked: int
    receipts_taken: int

    @property
    def span_s(self) -> float:
        return max(1e-9, (self.last_ms - self.first_ms) / 1000)


def count_at_sink(submits: list[dict[str, Any]], load: Load) -> SinkCount:
    seen: Counter[int] = Counter()
    garbled = unmarked = 0
    for submit in submits:
        mark = MARK.match(submit["text"])
        if mark is None:
            unmarked += 1
            continue
        n = int(mark.group(1))
        seen[n] += 1
        if submit["text"] != text(n) or submit["destination"] != phone(n).lstrip("+"):
            garbled += 1
    accepted = {n for n, ok in enumerate(load.accepted) if ok}
    times = [s["at_ms"] for s in submits] or [0]
    return SinkCount(
        taken=len(submits),
        distinct=len(seen),
        duplicates=sum(seen.values()) - len(seen),
        garbled=garbled,
        unmarked=unmarked,
        not_accepted=len(set(seen) - accepted),
        missing=len(accepted - set(seen)),
        first_ms=min(times),
        last_ms=max(times),
        receipts_asked=sum(1 for s in submits if s["registered_delivery"] & 3),
        receipts_taken=sum(1 for s in submits if s["receipt_taken_ms"] is not None),
    )


def wait_for_sink(sink: Sink, expected: int, args: argparse.Namespace) -> str:
    """Until the sink has taken `expected` submits, or nothing came for `--idle-timeout` s."""
    deadline = time.monotonic() + args.timeout
    last, last_change = -1, time.monotonic()
    while True:
        taken = sink.stats()["submits"]
        now = time.monotonic()
        if taken >= expected:
            return "all taken"
        if taken != last:
            last, last_change = taken, now
        elif now - last_change > args.idle_timeout:
            return f"STOPPED at {taken:,} (nothing for {args.idle_timeout:.0f} s)"
        if now > deadline:
            return f"TIMED OUT at {taken:,}"
        time.sleep(0.1)


# --- processes and CPU ---------------------------------------------------------------------


@contextlib.contextmanager
def started(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process (stdout and stderr to `log`), stopped at the end: SIGTERM, then SIGKILL
    for it and what is left of its children (by pid)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # only sets a signal: safe without threads
        )
    try:
        yield proc
    finally:
        stop_tree(proc)


def stop_tree(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


class Cpu:
    """CPU seconds over a measurement: the gateway's processes (by part), the sink, the
    load generator, and the rest of the machine (other sessions' work: noise)."""

    def __init__(self, parts: Callable[[], dict[str, list[psutil.Process]]], sink: Sink) -> None:
        self._parts = parts
        self._sink = sink

    def _sink_cpu(self) -> float:
        return cpu_seconds([self._sink.proc]) if self._sink.proc else 0.0

    def _take(self) -> dict[str, dict[int, float]]:
        return {
            part: {p.pid: cpu_seconds([p]) for p in procs} for part, procs in self._parts().items()
        }

    def __enter__(self) -> Cpu:
        self._g = self._take()
        self._s = self._sink_cpu()
        self._c, self._b, self._t = own_cpu_seconds(), busy_seconds(), time.monotonic()
        return self

    def stop(self) -> None:
        """The end of the measurement (a process started meanwhile counts whole)."""
        self.wall = time.monotonic() - self._t
        self.parts = {
            part: sum(v - self._g.get(part, {}).get(pid, 0.0) for pid, v in seconds.items())
            for part, seconds in self._take().items()
        }
        self.gateway = sum(self.parts.values())
        self.sink = self._sink_cpu() - self._s
        self.client = own_cpu_seconds() - self._c
        busy = busy_seconds() - self._b
        self.others = max(0.0, busy - self.gateway - self.sink - self.client)

    def __exit__(self, *_: object) -> None:
        if not hasattr(self, "wall"):
            self.stop()

    def rows(self, messages: int) -> list[tuple[str, str]]:
        def cores(seconds: float) -> str:
            per = f" ({seconds / max(1, messages) * 1e3:.3f} ms a message)"
            return f"{seconds:.1f} s = {seconds / self.wall:.2f} cores" + per

        return [
            ("CPU measured over", f"{self.wall:.2f} s (first request to the end of the wait)"),
            ("CPU: the gateway, all of it", cores(self.gateway)),
            *((f"CPU:   {part}", cores(seconds)) for part, seconds in self.parts.items()),
            ("CPU: the sink", cores(self.sink)),
            ("CPU: the load generator", cores(self.client)),
            ("CPU: OTHER processes (noise)", cores(self.others)),
        ]


def tree(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    try:
        root = psutil.Process(proc.pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def postgres_backends(database: str) -> list[psutil.Process]:
    """PostgreSQL backends serving `database` (their titles name it)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        title = " ".join(proc.info["cmdline"] or ())
        if proc.info["name"] == "postgres" and f" {database} " in f" {title} ":
            found.append(proc)
    return found


# --- one run of a gateway ------------------------------------------------------------------


@dataclass
class Run:
    system: str
    round: int
    load: Load
    sink: SinkCount
    rows: list[tuple[str, str]]
    wait: str
    last_receipt_ms: int | None = None  # Cascade: the last receipt its database recorded
    delivered: int | None = None

    @property
    def end_to_end(self) -> float:
        """Distinct messages at the sink over first accept to last submit, per second."""
        span = self.sink.last_ms / 1000 - self.load.first_accept
        return self.sink.distinct / span if span > 0 else float("nan")

    @property
    def http_rate(self) -> float:
        span = self.load.last_answer - self.load.first_sent
        return self.load.accepts / span if span > 0 else float("nan")

    @property
    def to_receipts(self) -> float | None:
        if self.last_receipt_ms is None or not self.delivered:
            return None
        return self.delivered / (self.last_receipt_ms / 1000 - self.load.first_accept)

    def ok(self) -> bool:
        s = self.sink
        return (
            not s.missing and not s.duplicates and not s.garbled and not s.unmarked
        ) and self.delivered in (None, self.load.accepts)

    def table_rows(self) -> list[tuple[str, str]]:
        load, s = self.load, self.sink
        lat = sorted(load.latencies)
        refused = ", ".join(f"HTTP {k} x{v:,}" for k, v in sorted(load.refused.items()))
        errors = ", ".join(f"{k} x{v:,}" for k, v in load.errors.most_common())
        rows = [
            *self.rows,
            ("requests (one message each)", f"{load.requests:,}"),
            (
                "accepted / refused / no answer",
                f"{load.accepts:,} / {refused or 0} / {errors or 0}",
            ),
            ("HTTP: first request to last answer", f"{load.last_answer - load.first_sent:.2f} s"),
            ("HTTP accepted/s", f"{self.http_rate:,.0f}"),
            (
                "HTTP latency p50 / p99 / max",
                f"{percentile(lat, 50) * 1e3:.1f} / {percentile(lat, 99) * 1e3:.1f} / "
                f"{(lat[-1] if lat else float('nan')) * 1e3:.1f} ms",
            ),
        ]
        if load.worst_lag_s:
            rows.append(("open loop: worst lag behind schedule", f"{load.worst_lag_s:.3f} s"))
        rows += [
            ("waited for the sink", self.wait),
            ("sink: submits taken / distinct messages", f"{s.taken:,} / {s.distinct:,}"),
            ("sink: duplicates (extra copies)", f"{s.duplicates:,}"),
            (
                "sink: garbled / not ours / taken but not accepted",
                f"{s.garbled:,} / {s.unmarked:,} / {s.not_accepted:,}",
            ),
            ("sink: accepted but never taken", f"{s.missing:,}"),
            ("sink: first to last submit", f"{s.span_s:.2f} s"),
            ("sink: submits/s over that span", f"{s.distinct / s.span_s:,.0f}"),
            (
                "first accept to last submit at the sink",
                f"{s.last_ms / 1000 - load.first_accept:.2f} s",
            ),
            ("END TO END msg/s (first accept to last submit)", f"{self.end_to_end:,.0f}"),
            (
                "sink: receipts asked / taken by the gateway",
                f"{s.receipts_asked:,} / {s.receipts_taken:,}",
            ),
        ]
        if self.last_receipt_ms is not None:
            rows += [
                ("delivered (receipt recorded in the database)", f"{self.delivered:,}"),
                (
                    "first accept to last receipt recorded",
                    f"{self.last_receipt_ms / 1000 - load.first_accept:.2f} s",
                ),
                ("msg/s to the last receipt recorded", f"{self.to_receipts:,.0f}"),
            ]
        return rows


def kannel_binaries() -> tuple[str, str] | None:
    found = []
    for name in ("bearerbox", "smsbox"):
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
        if path is None:
            return None
        found.append(path)
    return found[0], found[1]


def kannel_version(bearerbox: str) -> str:
    try:
        out = subprocess.run(
            [bearerbox, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    found = re.search(r"version `([^']+)'", out)
    return found.group(1) if found else "?"


def kannel_conf(args: argparse.Namespace, sink: Sink, ports: dict[str, int]) -> str:
    """bearerbox + smsbox, one SMPP group to the sink; no store, no DLRs asked."""
    return f"""\
group = core
admin-port = {ports["admin"]}
admin-interface = 127.0.0.1
admin-password = {PASSWORD}
admin-allow-ip = "127.0.0.1"
smsbox-port = {ports["smsbox"]}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
# no store-type / store-location: bearerbox keeps no store

group = smsc
smsc = smpp
smsc-id = sink
host = 127.0.0.1
port = {sink.port}
transceiver-mode = true
smsc-username = {SYSTEM_ID}
smsc-password = {PASSWORD}
system-type = ""
max-pending-submits = {args.smpp_window}
instances = {args.kannel_binds}

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {ports["smsbox"]}
sendsms-port = {ports["sendsms"]}
sendsms-interface = 127.0.0.1

group = sendsms-user
username = {SYSTEM_ID}
password = {PASSWORD}
"""


def kannel_status(admin: int) -> str:
    url = f"http://127.0.0.1:{admin}/status.txt?password={PASSWORD}"
    try:
        with urllib.request.urlopen(url, timeout=2) as got:
            return str(got.read().decode(errors="replace"))
    except (urllib.error.URLError, OSError):
        return ""


def wait_until(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.1)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run_kannel(
    args: argparse.Namespace, round_no: int, logs: Path, binaries: tuple[str, str]
) -> Run:
    bearerbox, smsbox = binaries
    conditions = Conditions.settle(args.quiet_wait)
    name = f"r{round_no}-kannel"
    with sink_process(args, logs, name) as sink:
        ports = {"admin": free_port(), "smsbox": free_port(), "sendsms": free_port()}
        conf = logs / f"{name}.conf"
        conf.write_text(kannel_conf(args, sink, ports))
        env = dict(os.environ)
        # -v 2: warnings and worse on the console (no log file): as quiet as Cascade's
        # CASCADE_LOG_LEVEL=warning
        with started([bearerbox, "-v", "2", str(conf)], env, logs / f"{name}-bearerbox.log") as bb:
            wait_until("Kannel's SMPP binds", lambda: sink.stats()["binds"] >= args.kannel_binds)
            with started([smsbox, "-v", "2", str(conf)], env, logs / f"{name}-smsbox.log") as sb:
                wait_until("smsbox's sendsms port", lambda: port_open(ports["sendsms"]))
                wait_until("smsbox connected", lambda: "smsbox:" in kannel_status(ports["admin"]))
                requests = [kannel_request(ports["sendsms"], n) for n in range(args.messages)]
                with Cpu(lambda: {"bearerbox": tree(bb), "smsbox": tree(sb)}, sink) as cpu:
                    load = run_load(ports["sendsms"], requests, 202, args)
                    wait = wait_for_sink(sink, load.accepts, args)
                    cpu.stop()
                conditions.measured()
                time.sleep(args.linger)  # late copies, if any, are counted too
                submits = sink.get("submits")
                status = kannel_status(ports["admin"])
    store = re.search(r"store size (-?\d+)", status)
    rows = [
        ("system", f"Kannel {kannel_version(bearerbox)} (bearerbox + smsbox)"),
        (
            "SMPP",
            f"{args.kannel_binds} transceiver bind(s), max-pending-submits {args.smpp_window}",
        ),
        ("store / receipts", f"none (store size {store.group(1) if store else '?'}) / none asked"),
        *cpu.rows(load.accepts),
        *conditions.rows(),
    ]
    return Run("Kannel", round_no, load, count_at_sink(submits, load), rows, wait)


def run_cascade(args: argparse.Namespace, round_no: int, logs: Path) -> Run:
    conditions = Conditions.settle(args.quiet_wait)
    name = f"r{round_no}-cascade"
    with scratch_database(args.db) as url, sink_process(args, logs, name) as sink:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
        env.update(
            CASCADE_DATABASE_URL=url,
            CASCADE_PUBLIC_URL=f"http://127.0.0.1:{port}",
            CASCADE_SEND_RATE="1000000",
            CASCADE_SEND_BURST="1000000",
            CASCADE_LOG_LEVEL="warning",
            CASCADE_SQLITE_SYNCHRONOUS=args.sqlite_synchronous,
            CASCADE_CHANNELS="sms",
            CASCADE_CHANNEL_RATES="off",
            CASCADE_SMPP_HOST="127.0.0.1",
            CASCADE_SMPP_PORT=str(sink.port),
            CASCADE_SMPP_SYSTEM_ID=SYSTEM_ID,
            CASCADE_SMPP_PASSWORD=PASSWORD,
            CASCADE_SMPP_WINDOW=str(args.smpp_window),
        )
        _cli(["migrate"], env)
        account = json.loads(_cli(["accounts", "create", "bench", "--json"], env))
        _cli(["accounts", "channels", account["accountId"], "sms"], env)
        api_args = [
            *CASCADE, "api", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(args.api_processes), "--server", args.server,
        ]  # fmt: skip
        with contextlib.ExitStack() as stack:
            api = stack.enter_context(started(api_args, env, logs / f"{name}-api.log"))
            wait_http(f"http://127.0.0.1:{port}/healthz")
            workers = [
                stack.enter_context(
                    started([*CASCADE, "worker"], env, logs / f"{name}-worker{n}.log")
                )
                for n in range(args.workers)
            ]
            wait_until("the workers' SMPP binds", lambda: sink.stats()["binds"] >= args.workers)
            database = url.rsplit("/", 1)[1] if args.db == "postgresql" else None

            def gateway() -> dict[str, list[psutil.Process]]:
                parts = {"api": tree(api), "workers": [p for w in workers for p in tree(w)]}
                if database:
                    parts["PostgreSQL backends"] = postgres_backends(database)
                return parts

            requests = [cascade_request(port, account["apiKey"], n) for n in range(args.messages)]
            with Cpu(gateway, sink) as cpu:
                load = run_load(port, requests, 200, args)
                wait = wait_for_sink(sink, load.accepts, args)
                deadline = time.monotonic() + args.timeout
                while query(url, "SELECT EXISTS (SELECT 1 FROM tasks)")[0][0]:
                    if time.monotonic() > deadline:
                        wait += "; receipts TIMED OUT"
                        break
                    time.sleep(0.1)
                cpu.stop()
            conditions.measured()
            time.sleep(args.linger)
            submits = sink.get("submits")
        statuses = dict(query(url, "SELECT status, count(*) FROM messages GROUP BY status"))
        receipts = query(
            url,
            "SELECT count(*), max(a.finished_at) FROM attempts a "
            "WHERE a.channel = 'sms' AND a.status = 'delivered'",
        )[0]
    rows = [
        (
            "system",
            f"Cascade: 1 api ({args.server}, {args.api_processes} process), "
            f"{args.workers} workers, {args.db}",
        ),
        ("SMPP", f"{args.workers} transceiver binds (one a worker), window {args.smpp_window}"),
        (
            "store / receipts",
            f"{args.db}"
            + (f" synchronous={args.sqlite_synchronous}" if args.db == "sqlite" else "")
            + f" / DELIVRD {args.receipt_delay_ms:.0f} ms after each submit",
        ),
        ("final statuses", ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items()))),
        *cpu.rows(load.accepts),
        *conditions.rows(),
    ]
    return Run(
        "Cascade",
        round_no,
        load,
        count_at_sink(submits, load),
        rows,
        wait,
        last_receipt_ms=int(receipts[1]) if receipts[1] is not None else None,
        delivered=int(receipts[0]),
    )


# --- main ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, help="requests, one message each")
    parser.add_argument("--connections", type=int, default=32, help="concurrent HTTP connections")
    parser.add_argument(
        "--rate", type=float, default=0, help="open loop at this many requests/s (0: closed loop)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="pairs of runs, alternating order")
    parser.add_argument("--only", choices=["kannel", "cascade"], help="run one system only")
    parser.add_argument(
        "--smpp-window", type=int, default=10,
        help="submits outstanding a bind, both (Kannel max-pending-submits, CASCADE_SMPP_WINDOW;"
        " 10 is both products' default)",
    )  # fmt: skip
    parser.add_argument("--kannel-binds", type=int, default=1, help="Kannel's SMPP binds")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=2, help="cascade worker processes")
    parser.add_argument("--api-processes", type=int, default=1, help="cascade api --workers")
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    parser.add_argument(
        "--sqlite-synchronous", default="FULL", choices=["OFF", "NORMAL", "FULL", "EXTRA"]
    )
    parser.add_argument("--receipt-delay-ms", type=float, default=50)
    parser.add_argument("--receipt-window", type=int, default=32, help="the sink's, per bind")
    parser.add_argument(
        "--sink-engine", choices=["codec", "server"], default="codec",
        help="recording_smsc.py --engine (server: smpp34's own, below ~4,000 submits/s here)",
    )  # fmt: skip
    parser.add_argument("--request-timeout-s", type=float, default=30)
    parser.add_argument("--timeout", type=float, default=300, help="longest wait after the load")
    parser.add_argument(
        "--idle-timeout", type=float, default=15, help="stop waiting when the sink gets nothing"
    )
    parser.add_argument("--linger", type=float, default=1.0, help="s before reading the sink")
    parser.add_argument(
        "--quiet-wait", type=float, default=30, help="wait up to this many s for an idle machine"
    )
    parser.add_argument("--logs", help="keep the generated kannel.conf and the logs here")
    args = parser.parse_args()
    if not 0 < args.messages <= 1_000_000:
        parser.error("--messages: 1 to 1,000,000")
    return args


def summary(runs: list[Run]) -> list[tuple[str, str]]:
    rows = []
    ratios, http_ratios = [], []
    for round_no in sorted({r.round for r in runs}):
        pair = {r.system: r for r in runs if r.round == round_no}
        for r in sorted(pair.values(), key=runs.index):
            receipts = f"; to last receipt {r.to_receipts:,.0f}" if r.to_receipts else ""
            rows.append(
                (
                    f"round {round_no}: {r.system}",
                    f"end to end {r.end_to_end:,.0f} msg/s; HTTP {r.http_rate:,.0f}/s; "
                    f"p50 / p99 {percentile(sorted(r.load.latencies), 50) * 1e3:.1f} / "
                    f"{percentile(sorted(r.load.latencies), 99) * 1e3:.1f} ms{receipts}",
                )
            )
        if len(pair) == 2:
            ratio = pair["Cascade"].end_to_end / pair["Kannel"].end_to_end
            http = pair["Cascade"].http_rate / pair["Kannel"].http_rate
            ratios.append(ratio)
            http_ratios.append(http)
            rows.append(
                (f"round {round_no}: Cascade / Kannel", f"{ratio:.2f} end to end, {http:.2f} HTTP")
            )
    if len(ratios) > 1:
        rows.append(
            (
                "median ratio Cascade / Kannel",
                f"{statistics.median(ratios):.2f} end to end, "
                f"{statistics.median(http_ratios):.2f} HTTP ({len(ratios)} rounds)",
            )
        )
    return rows


def main() -> int:
    args = parse_args()
    binaries = kannel_binaries()
    if binaries is None and args.only != "cascade":
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    _exit_on_sigterm()
    install_uvloop()
    command = " ".join(shlex.quote(a) for a in [f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    machine = machine_rows()
    runs: list[Run] = []
    with log_dir(args.logs, "cascade-peer-kannel-") as logs:
        for round_no in range(1, args.rounds + 1):
            order = ["kannel", "cascade"] if round_no % 2 else ["cascade", "kannel"]
            for system in order:
                if args.only and system != args.only:
                    continue
                if system == "kannel":
                    assert binaries is not None
                    run = run_kannel(args, round_no, logs, binaries)
                else:
                    run = run_cascade(args, round_no, logs)
                runs.append(run)
                print(table(run.table_rows(), f"Round {round_no}: {run.system}"), flush=True)
    load_kind = (
        f"open loop at {args.rate:,.0f} requests/s" if args.rate else "closed loop"
    ) + f", {args.connections} connections"
    print(f"command: {command}")
    print(table(machine, "Machine"))
    print(
        table(
            [
                ("load", f"{args.messages:,} requests of one message, {load_kind}"),
                (
                    "sink",
                    f"bench/recording_smsc.py --engine {args.sink_engine} (smpp34), "
                    "answers every submit_sm",
                ),
                *summary(runs),
            ],
            "Cascade against Kannel, end to end (distinct messages at the sink / "
            "first accept to last submit)",
        )
    )
    return 0 if all(r.ok() for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
