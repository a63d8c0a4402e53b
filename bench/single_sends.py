"""Single-message sends against `/healthz` in the same run, and their latency at a fixed rate.

One `cascade api` (granian, `--workers` processes, 1 by default) on a scratch database
(SQLite with `synchronous=FULL` unless `--sqlite-synchronous` says otherwise, or
`--db postgresql`), one account and its key; then, one after the other against the same
server process:

(a) `GET /healthz`, closed loop: `--connections` keep-alive connections, each sending its
    next request as soon as the previous one is answered, for `--duration` s;
(b) single-message sends (one item per POST, each with a tracking id of its own), closed
    loop, the same connections and time;
(c) single-message sends at `--rate` requests/s, open loop: request i is due at
    start + i / rate whatever became of the ones before it, waits for a free connection
    if none is idle, and its latency is measured from its *due* time, so a stall (of the
    server or of the generator) shows in the figures (no coordinated omission).

Every phase has `--warmup` s first that are not counted. Afterwards every message a 200
named is looked up in the database with its delivery task, and the rows are counted.

The load generator is a small HTTP/1.1 client of its own (asyncio protocols on uvloop,
requests pre-built as bytes, responses parsed by Content-Length), run in `--generators`
processes of its own so that its CPU is measured apart from this script's. It shares the
machine's cores with the server: its CPU is printed beside the server's, and /healthz's
rate, which goes through the same client, shows how far the client itself can go.

    .venv/bin/python bench/single_sends.py
    .venv/bin/python bench/single_sends.py --db postgresql --duration 20
    .venv/bin/python bench/single_sends.py --py-spy /tmp/pyspy/bin/py-spy --profile-out /tmp/p
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import math
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec
from common import (
    SEND_PATH,
    Conditions,
    Server,
    add_quiet_wait_argument,
    busy_seconds,
    cpu_seconds,
    database_processes,
    install_uvloop,
    latency_summary,
    live_server,
    machine_rows,
    query,
    table,
)

TARGET_RATE = 5_000  # single sends per second, closed loop, 32 connections
TARGET_RATIO = 0.5  # of /healthz's rate in the same run
TARGET_P99_MS = 10.0  # at 1,000 requests/s, open loop


# --- the client ---------------------------------------------------------------------------


def send_body(prefix: str, n: int) -> bytes:
    """One message in a JSON array, with a tracking id no other request has."""
    return (
        b'[{"id":"%s-%d","fromName":"Bench","toPhone":"+38050%07d",'
        b'"messageType":"transaction","text":"Your code is %06d. It expires in 10 minutes."}]'
        % (prefix.encode(), n, n % 10_000_000, n % 1_000_000)
    )


@dataclass
class Target:
    host: str
    port: int
    api_key: str

    def get(self, path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode()

    def post_head(self, path: str) -> bytes:
        """A POST's head up to its Content-Length value (the length and body follow)."""
        return (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"X-Authorization-Key: {self.api_key}\r\nContent-Type: application/json\r\n"
            "Content-Length: "
        ).encode()


class _Http(asyncio.Protocol):
    """One keep-alive connection: one request at a time, the answer framed by its
    Content-Length (the server sends one on every answer here)."""

    def __init__(self, on_answer: Callable[[_Http, int, bytes], None]) -> None:
        self._on_answer = on_answer
        self._buffer = b""
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.tag: Any = None  # what the request in flight was (its index, its due time)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)

    def send(self, request: bytes, tag: Any) -> None:
        self.tag = tag
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end].lower()
            at = head.find(b"content-length:")
            if at < 0:
                raise RuntimeError(f"answer without Content-Length: {head[:200]!r}")
            length = int(head[at + 15 : head.find(b"\r\n", at) if b"\r\n" in head[at:] else None])
            total = end + 4 + length
            if len(buffer) < total:
                break
            status = int(buffer[9:12])
            body = buffer[end + 4 : total]
            buffer = buffer[total:]
            self._on_answer(self, status, body)
        self._buffer = buffer


@dataclass
class Phase:
    """What one generator process was asked to do."""

    kind: str  # "healthz", "sends" (closed loop) or "open" (open loop)
    host: str
    port: int
    api_key: str
    connections: int
    warmup: float
    duration: float
    start_at: float  # time.time() at which every generator starts
    prefix: str = "s"
    rate: float = 0.0  # open loop: this generator's share of the rate
    phase_offset: float = 0.0  # open loop: this generator's first request, s after the start
    request_timeout: float = 10.0


@dataclass
class Result:
    answered: int = 0  # answers completed inside the measured window
    statuses: dict[int, int] = field(default_factory=dict)  # all answers, by status
    latencies: list[float] = field(default_factory=list)  # measured window, seconds
    lag: list[float] = field(default_factory=list)  # open loop: firing minus due time
    unanswered: int = 0  # open loop: requests with no answer when the phase ended
    sent_measured: int = 0  # open loop: requests due inside the measured window
    ok_bodies: list[bytes] = field(default_factory=list)  # every 200's body (sends)
    cpu: float = 0.0  # this generator's CPU over the measured window, seconds
    window: float = 0.0  # the measured window, seconds
    errors: list[str] = field(default_factory=list)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _connect(phase: Phase, on_answer: Callable[[_Http, int, bytes], None]) -> list[_Http]:
    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(phase.connections):
        _, proto = await loop.create_connection(lambda: _Http(on_answer), phase.host, phase.port)
        conns.append(proto)
    return conns


async def _closed_loop(phase: Phase) -> Result:
    target = Target(phase.host, phase.port, phase.api_key)
    result = Result()
    clock = time.perf_counter
    healthz = target.get("/healthz")
    head = target.post_head(SEND_PATH)
    counter = [0]
    tag = f"{phase.prefix}{os.getpid()}"

    def request() -> bytes:
        if phase.kind == "healthz":
            return healthz
        counter[0] += 1
        body = send_body(tag, counter[0])
        return b"%s%d\r\n\r\n%s" % (head, len(body), body)

    window = [math.inf, math.inf]  # measured from, to
    stop_at = [math.inf]
    outstanding = [0]
    done = asyncio.get_running_loop().create_future()
    statuses: collections.Counter[int] = collections.Counter()

    def on_answer(conn: _Http, status: int, body: bytes) -> None:
        now = clock()
        statuses[status] += 1
        if status == 200 and phase.kind != "healthz":
            result.ok_bodies.append(body)
        if window[0] <= now < window[1]:
            result.answered += 1
            result.latencies.append(now - conn.tag)
        if now < stop_at[0]:
            conn.send(request(), clock())
            return
        outstanding[0] -= 1
        if outstanding[0] == 0 and not done.done():
            done.set_result(None)

    conns = await _connect(phase, on_answer)
    await asyncio.sleep(max(0.0, phase.start_at - time.time()))
    begin = clock()
    window[0], window[1] = begin + phase.warmup, begin + phase.warmup + phase.duration
    stop_at[0] = window[1]
    outstanding[0] = len(conns)
    for conn in conns:
        conn.send(request(), clock())
    await asyncio.sleep(max(0.0, window[0] - clock()))
    cpu0 = _own_cpu()
    await asyncio.sleep(max(0.0, window[1] - clock()))
    result.cpu = _own_cpu() - cpu0
    result.window = phase.duration
    try:
        await asyncio.wait_for(done, phase.request_timeout)
    except TimeoutError:
        result.errors.append(f"{outstanding[0]} requests unanswered at the end")
    for conn in conns:
        assert conn.transport is not None
        conn.transport.close()
    result.statuses = dict(statuses)
    return result


async def _open_loop(phase: Phase) -> Result:
    target = Target(phase.host, phase.port, phase.api_key)
    result = Result()
    clock = time.perf_counter
    head = target.post_head(SEND_PATH)
    tag = f"{phase.prefix}{os.getpid()}"
    total = round(phase.rate * (phase.warmup + phase.duration))
    skip = round(phase.rate * phase.warmup)
    bodies = [send_body(tag, i) for i in range(total)]
    requests = [b"%s%d\r\n\r\n%s" % (head, len(b), b) for b in bodies]
    latency = [math.nan] * total
    lag = [0.0] * total
    idle: collections.deque[_Http] = collections.deque()
    queued: collections.deque[tuple[int, float]] = collections.deque()
    statuses: collections.Counter[int] = collections.Counter()
    pending = [total]
    done = asyncio.get_running_loop().create_future()

    def fire(conn: _Http, i: int, due: float) -> None:
        lag[i] = clock() - due
        conn.send(requests[i], (i, due))

    def on_answer(conn: _Http, status: int, body: bytes) -> None:
        now = clock()
        i, due = conn.tag
        statuses[status] += 1
        if status == 200:
            result.ok_bodies.append(body)
            latency[i] = now - due
        pending[0] -= 1
        if pending[0] == 0 and not done.done():
            done.set_result(None)
        if queued:
            fire(conn, *queued.popleft())
        else:
            idle.append(conn)

    conns = await _connect(phase, on_answer)
    idle.extend(conns)
    await asyncio.sleep(max(0.0, phase.start_at - time.time()))
    interval = 1.0 / phase.rate
    start = clock() + phase.phase_offset
    i = 0
    cpu0 = math.nan
    while i < total:
        now = clock()
        while i < total and start + i * interval <= now:
            due = start + i * interval
            if i == skip:
                cpu0 = _own_cpu()
            if idle:
                fire(idle.popleft(), i, due)
            else:
                queued.append((i, due))
            i += 1
        if i < total:
            await asyncio.sleep(max(0.0, start + i * interval - clock()))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done, phase.request_timeout)
    result.cpu = _own_cpu() - cpu0
    result.window = phase.duration
    for conn in conns:
        assert conn.transport is not None
        conn.transport.close()
    # a request that got no 200 counts as infinitely slow: leaving it out would hide
    # exactly the requests that were too slow
    result.latencies = [x if x == x else math.inf for x in latency[skip:]]
    result.lag = lag[skip:]
    result.sent_measured = total - skip
    result.unanswered = pending[0]
    result.answered = sum(1 for x in result.latencies if x != math.inf)
    result.statuses = dict(statuses)
    return result


def _generator(phase: Phase, out: Connection) -> None:
    """A load generator process: run the phase, send the result back."""
    install_uvloop()
    try:
        run = _closed_loop if phase.kind in ("healthz", "sends") else _open_loop
        result = asyncio.run(run(phase))
    except Exception as err:  # reported by the parent, which then fails the run
        result = Result(errors=[f"{type(err).__name__}: {err}"])
    out.send(result)
    out.close()


# --- a phase: generators, CPU accounting --------------------------------------------------


def thread_cpu(procs: list[Any]) -> dict[str, float]:
    """CPU seconds so far of every thread of these processes, by process and thread name
    (threads of one name added up: granian's runtime threads, the event loop, SQLite's
    writer thread, ...)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = collections.defaultdict(float)
    for n, proc in enumerate(procs):
        base = Path(f"/proc/{proc.pid}/task")
        with contextlib.suppress(OSError):
            for task in base.iterdir():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    name = (task / "comm").read_text().strip()
                    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                    who = "supervisor" if n == 0 and len(procs) > 1 else f"worker {n}"
                    if int(task.name) == proc.pid:
                        name = "main (event loop)"
                    elif name == "python":
                        name = "other Python threads (SQLite writer, aiosqlite)"
                    found[f"{who}: {name}"] += (int(fields[11]) + int(fields[12])) / ticks
    return found


@dataclass
class Measured:
    results: list[Result]
    server_cpu: float
    db_cpu: float
    busy: float
    wall: float
    threads: dict[str, float] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return sum(r.answered for r in self.results)

    @property
    def window(self) -> float:
        return max(r.window for r in self.results) or math.nan

    @property
    def client_cpu(self) -> float:
        return sum(r.cpu for r in self.results)

    @property
    def statuses(self) -> dict[int, int]:
        total: collections.Counter[int] = collections.Counter()
        for r in self.results:
            total.update(r.statuses)
        return dict(sorted(total.items()))

    @property
    def errors(self) -> list[str]:
        return [e for r in self.results for e in r.errors]

    def cpu_rows(self) -> list[tuple[str, str]]:
        def cores(seconds: float) -> str:
            return f"{seconds / self.window:.2f} cores"

        others = max(0.0, self.busy - self.server_cpu - self.db_cpu - self.client_cpu)
        rows = [("  server CPU (all its processes)", cores(self.server_cpu))]
        if self.db_cpu:
            rows.append(("  PostgreSQL CPU (this database's backends)", cores(self.db_cpu)))
        rows += [
            ("  load generator CPU (its processes)", cores(self.client_cpu)),
            ("  OTHER processes' CPU (noise)", cores(others)),
        ]
        if self.answered:
            per = self.server_cpu / self.answered * 1e3
            rows.append(("  server CPU per request", f"{per:.3f} ms"))
        for name, seconds in sorted(self.threads.items(), key=lambda kv: -kv[1]):
            if seconds / self.window >= 0.01:
                rows.append((f"    thread {name}", cores(seconds)))
        return rows


def run_phase(
    server: Server, phases: list[Phase], spy: Callable[[], Any] | None = None
) -> Measured:
    """Start one generator process per phase; measure CPU over the measured window."""
    ctx = multiprocessing.get_context("spawn")
    pipes, procs = [], []
    for phase in phases:
        mine, theirs = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_generator, args=(phase, theirs), daemon=True)
        proc.start()
        theirs.close()
        pipes.append(mine)
        procs.append(proc)
    first = phases[0]
    server_procs = server.processes()
    # the measured window starts `warmup` s after `start_at`
    time.sleep(max(0.0, first.start_at + first.warmup - time.time()))
    spying = spy() if spy is not None else None
    s0, b0, t0 = cpu_seconds(server_procs), busy_seconds(), time.perf_counter()
    th0 = thread_cpu(server_procs)
    db0 = {p.pid: cpu_seconds([p]) for p in database_processes(server)}
    time.sleep(max(0.0, first.start_at + first.warmup + first.duration - time.time()))
    server_cpu = cpu_seconds(server_procs) - s0
    threads = {k: v - th0.get(k, 0.0) for k, v in thread_cpu(server_procs).items()}
    busy = busy_seconds() - b0
    wall = time.perf_counter() - t0
    db_cpu = sum(cpu_seconds([p]) - db0.get(p.pid, 0.0) for p in database_processes(server))
    if spying is not None:
        spying()
    results = []
    for pipe, proc in zip(pipes, procs, strict=True):
        if pipe.poll(first.request_timeout + 60):
            results.append(pipe.recv())
        else:
            results.append(Result(errors=["generator gave no result"]))
        proc.join(10)
    return Measured(results, server_cpu, db_cpu, busy, wall, threads)


def phases(args: argparse.Namespace, server: Server, kind: str, prefix: str) -> list[Phase]:
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    start_at = time.time() + 2.0  # time for the generators to start and connect
    count = args.generators
    made = []
    for g in range(count):
        conns = args.connections // count + (1 if g < args.connections % count else 0)
        made.append(
            Phase(
                kind=kind,
                host=host,
                port=int(port),
                api_key=server.api_key,
                connections=conns if kind != "open" else args.open_connections // count,
                warmup=args.warmup,
                duration=args.duration,
                start_at=start_at,
                prefix=f"{prefix}{g}-",
                rate=args.rate / count,
                phase_offset=g / args.rate,
            )
        )
    return made


# --- the check: every 200 in the database, with its task ----------------------------------


def committed(url: str, message_ids: list[str]) -> tuple[int, int]:
    """(how many of these messages are stored with a task, how many messages are stored)."""
    total = int(query(url, "SELECT count(*) FROM messages")[0][0])
    if url.startswith("sqlite"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            db.execute("CREATE TEMP TABLE answered (id TEXT PRIMARY KEY)")
            db.executemany("INSERT INTO answered VALUES (?)", ((i,) for i in message_ids))
            found = db.execute(
                "SELECT count(DISTINCT m.id) FROM answered a JOIN messages m ON m.id = a.id "
                "JOIN tasks t ON t.message_id = m.id"
            ).fetchone()[0]
        return int(found), total
    import asyncpg

    async def run() -> int:
        conn = await asyncpg.connect(url.replace("postgresql://", "postgres://", 1))
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(DISTINCT m.id) FROM messages m JOIN tasks t "
                    "ON t.message_id = m.id WHERE m.id = ANY($1::varchar[])",
                    message_ids,
                )
            )
        finally:
            await conn.close()

    return asyncio.run(run()), total


# --- py-spy -------------------------------------------------------------------------------

# (category, substrings of a frame's file); the first match wins, applied to the frame that
# was running when the sample was taken (without --native a C function counts under the
# Python frame that called it: sqlite3's step and fsync under SQLAlchemy's execute/commit)
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("granian (its Python side)", ("granian/",)),
    ("Litestar (routing, request, response, middleware)", ("litestar/",)),
    ("cascade api: wire decode", ("cascade/api/wire.py",)),
    ("cascade api: intake", ("cascade/api/intake.py",)),
    ("cascade api: auth", ("cascade/api/auth.py", "cascade/security.py")),
    ("cascade api: app, handler, rate limit", ("cascade/api/",)),
    ("validation (domain)", ("cascade/domain/",)),
    ("ids", ("cascade/ids.py",)),
    ("store: group commit (sql/intake.py)", ("cascade/store/sql/intake.py",)),
    ("store: writer thread (sqlite_runtime.py)", ("cascade/store/sqlite_runtime.py",)),
    ("store: other", ("cascade/store/",)),
    ("SQLAlchemy (incl. sqlite3 / asyncpg calls it makes)", ("sqlalchemy/",)),
    ("asyncpg", ("asyncpg/",)),
    ("aiosqlite", ("aiosqlite/",)),
    ("msgspec", ("msgspec/",)),
    ("logging", ("logging/",)),
    ("asyncio / uvloop / threading", ("asyncio/", "uvloop/", "threading.py", "concurrent/",
                                      "queue.py", "selectors.py")),
]  # fmt: skip


def frame_category(name: str, path: str) -> str:
    for title, needles in CATEGORIES:
        if any(needle in path for needle in needles):
            return title
    return f"other ({Path(path).name or name})"


def profile_report(path: Path, top: int = 30) -> str:
    """Totals from py-spy's speedscope file: samples by thread, own time by category and
    by function (the running frame), and total time by function (anywhere on the stack),
    as `py-spy top` shows them."""
    doc = msgspec.json.decode(path.read_bytes())
    frames = doc["shared"]["frames"]
    names = [(f["name"], f.get("file") or "", f.get("line") or 0) for f in frames]
    by_thread: collections.Counter[str] = collections.Counter()
    own_cat: collections.Counter[str] = collections.Counter()
    own_fn: collections.Counter[str] = collections.Counter()
    total_fn: collections.Counter[str] = collections.Counter()
    samples = 0
    for prof in doc["profiles"]:
        thread = prof["name"]
        for stack, weight in zip(prof["samples"], prof["weights"], strict=True):
            samples += weight
            by_thread[thread] += weight
            if not stack:
                continue
            name, file, line = names[stack[-1]]
            own_cat[frame_category(name, file)] += weight
            own_fn[f"{name} ({_short(file)}:{line})"] += weight
            for fn in {f"{names[i][0]} ({_short(names[i][1])})" for i in stack}:
                total_fn[fn] += weight
    total = samples or 1
    out = [
        table([(t, f"{n / total:6.1%}") for t, n in by_thread.most_common()],
              f"Samples by thread (of {samples:,}, active only)"),
        table([(c, f"{n / total:6.1%}") for c, n in own_cat.most_common()],
              "Own time by category (all threads)"),
        table([(f, f"{n / total:6.1%}") for f, n in own_fn.most_common(top)],
              f"Top {top} functions by own time"),
        table([(f, f"{n / total:6.1%}") for f, n in total_fn.most_common(top)],
              f"Top {top} functions by total time (on the stack)"),
    ]  # fmt: skip
    return "\n".join(out)


def _short(where: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", "src/"):
        if marker in where:
            return where.split(marker, 1)[1]
    return where


def py_spy(args: argparse.Namespace, server: Server) -> Callable[[], Any] | None:
    """During (b), or (c) with --spy-on c: py-spy records every thread of the process that
    serves requests, as a speedscope file; returns the function that starts it (and
    returns its stopper)."""
    if not args.py_spy:
        return None
    out = Path(args.profile_out)
    out.mkdir(parents=True, exist_ok=True)
    target = server.processes()[-1]  # granian's worker (the supervisor is the first)
    seconds = max(1, int(args.duration) - 1)

    def start() -> Callable[[], None]:
        spy = subprocess.Popen(
            [args.py_spy, "record", "--pid", str(target.pid), "--rate", str(args.spy_rate),
             "--duration", str(seconds), "--threads", "--format", "speedscope",
             *(["--native"] if args.spy_native else []),
             "--output", str(out / f"{args.spy_on}.speedscope.json")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

        def stop() -> None:
            _, err = spy.communicate(timeout=60)
            if spy.returncode:
                print(f"py-spy: {err.decode(errors='replace')[-500:]}", file=sys.stderr)

        return stop

    return start


# --- the run ------------------------------------------------------------------------------


def _fmt(d: dict[str, float]) -> str:
    return f"{d['p50']:.2f} / {d['p90']:.2f} / {d['p99']:.2f} / {d['max']:.2f}"


def code_under_test() -> str:
    """Where the server's `cascade` comes from (PYTHONPATH may point at another tree)."""
    found = subprocess.run(
        [sys.executable, "-c", "import cascade; print(cascade.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return str(Path(found).parent.parent) if found else "?"


def run(args: argparse.Namespace) -> int:
    print(table([*machine_rows(), ("cascade imported from", code_under_test())], "Machine"))
    with live_server(
        args.db,
        "granian",
        workers=args.workers,
        sqlite_synchronous=args.sqlite_synchronous,
    ) as server:
        machine = Conditions.settle(args.quiet_wait)
        health = run_phase(server, phases(args, server, "healthz", "h"))
        spy = py_spy(args, server)
        sends = run_phase(
            server, phases(args, server, "sends", "b"), spy if args.spy_on == "b" else None
        )
        opened = run_phase(
            server, phases(args, server, "open", "c"), spy if args.spy_on == "c" else None
        )
        machine.measured()
        decode = msgspec.json.decode
        ids = [
            item["messageId"]
            for m in (sends, opened)
            for r in m.results
            for body in r.ok_bodies
            for item in decode(body)
        ]
        found, stored = committed(server.database_url, ids)

    health_rate = health.answered / health.window
    send_rate = sends.answered / sends.window
    ratio = send_rate / health_rate if health_rate else math.nan
    open_lat = latency_summary([x for r in opened.results for x in r.latencies])
    open_lag = latency_summary([x for r in opened.results for x in r.lag])
    closed_lat = latency_summary([x for r in sends.results for x in r.latencies])
    open_sent = sum(r.sent_measured for r in opened.results)
    open_ok = opened.answered
    failed = [
        f"{name}: {m.errors}"
        for name, m in (("a", health), ("b", sends), ("c", opened))
        if m.errors
    ]
    non_200 = {
        name: {k: v for k, v in m.statuses.items() if k != 200}
        for name, m in (("a", health), ("b", sends), ("c", opened))
    }
    all_committed = found == len(ids) and stored == len(ids)
    met_rate = send_rate >= TARGET_RATE
    met_ratio = ratio >= TARGET_RATIO
    met_p99 = open_lat["p99"] <= TARGET_P99_MS
    verdict = lambda ok: "MET" if ok else "MISSED"  # noqa: E731
    rows = [
        ("database / server / workers", f"{args.db} / granian / {args.workers}"),
        ("sqlite synchronous", args.sqlite_synchronous if args.db == "sqlite" else "-"),
        ("generators (processes) / connections",
         f"{args.generators} / {args.connections} (open loop: {args.open_connections})"),
        ("warm-up (not counted) + measured, each",
         f"{args.warmup:g} s + {args.duration:g} s"),
        ("cores", "2: server, generators and database share them"),
        ("(a) /healthz, closed loop", f"{health_rate:,.0f} req/s"),
        *health.cpu_rows(),
        ("(b) single sends, closed loop", f"{send_rate:,.0f} req/s"),
        ("    latency p50 / p90 / p99 / max ms", _fmt(closed_lat)),
        *sends.cpu_rows(),
        ("(b) / (a)", f"{ratio:.2f}"),
        (f"(c) single sends at {args.rate:g}/s, open loop", f"{open_ok:,} of {open_sent:,} ok"),
        ("    latency from due time p50 / p90 / p99 / max", _fmt(open_lat)),
        ("    generator's lag in firing p50 / p99 / max", _fmt(open_lag)),
        *opened.cpu_rows(),
        ("answers other than 200", str({k: v for k, v in non_200.items() if v} or "none")),
        ("200s (b + c) / stored with their task", f"{len(ids):,} / {found:,}"),
        ("messages in the database", f"{stored:,} ({'all' if all_committed else 'NOT all'} "
                                      "200s, nothing else)" if all_committed else f"{stored:,}"),
        (f"target >= {TARGET_RATE:,} req/s", verdict(met_rate)),
        (f"target (b)/(a) >= {TARGET_RATIO:g}", verdict(met_ratio)),
        (f"target p99 <= {TARGET_P99_MS:g} ms at {args.rate:g}/s", verdict(met_p99)),
        *machine.rows(),
    ]  # fmt: skip
    print(table(rows, "Single-message sends"))
    if failed:
        print("ERRORS: " + "; ".join(failed), file=sys.stderr)
    if args.py_spy:
        speedscope = Path(args.profile_out) / f"{args.spy_on}.speedscope.json"
        report = profile_report(speedscope)
        (Path(args.profile_out) / f"{args.spy_on}-report.txt").write_text(report + "\n")
        print(f"py-spy during ({args.spy_on}), {args.spy_rate} samples/s: {speedscope}")
        print(report)
    return 0 if all_committed and not failed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--sqlite-synchronous", default="FULL", choices=["OFF", "NORMAL", "FULL", "EXTRA"]
    )
    parser.add_argument("--duration", type=float, default=20.0, help="measured s per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="uncounted s before each")
    parser.add_argument("--connections", type=int, default=32, help="closed loops (a), (b)")
    parser.add_argument("--open-connections", type=int, default=64, help="open loop (c)")
    parser.add_argument("--rate", type=float, default=1000.0, help="open loop (c), req/s")
    parser.add_argument("--generators", type=int, default=1, help="load generator processes")
    parser.add_argument("--py-spy", default=None, help="path of py-spy: profile (b)")
    parser.add_argument("--profile-out", default="/tmp/single-sends-profile")
    parser.add_argument("--spy-rate", type=int, default=200, help="py-spy samples per s")
    parser.add_argument(
        "--spy-on", choices=["b", "c"], default="b", help="the phase py-spy records"
    )
    parser.add_argument("--spy-native", action="store_true", help="py-spy --native (C frames too)")
    add_quiet_wait_argument(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
