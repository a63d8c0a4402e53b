"""Crash soak: what becomes of every accepted SMS when processes die under load (issue 12).

1 `cascade api` + 2 `cascade worker` processes on a fresh database, the SMS channel only,
bound to a recording SMSC (`bench/recording_smsc.py`: an SMPP server built on the
`smpp34` package, sharing no code with Cascade) that answers every `submit_sm`, sends a
`DELIVRD` receipt 50 ms later, queues receipts no link took, and records every submit.

The load generator posts `--messages` messages (each with a unique text and tracking id,
to its own phone) at `--rate` messages/s in requests of `--batch`. A request that fails
for want of a server (connection refused or reset, timeout, 5xx, 429) is posted again,
the SAME body with the same tracking ids: the API is idempotent on `id`, so the client
loses and doubles nothing. Meanwhile, by default, a random worker is killed with SIGKILL
every 2-4 s and started again at once, and the api is killed once (`--api-kill-at`, a
share of the posting time) and started again. With `--pg-restart` (PostgreSQL only) no
process is killed: the PostgreSQL server is restarted once instead (every other user of
the local server sees it too). A process that ends on its own is started again within a
second, as a supervisor would, and reported.

When the posting is over the killing stops, and the soak waits (at most
`--settle-timeout` s) until every message is final and the SMSC has handed on every
receipt. Then it counts, per accepted message, from the database and the SMSC's record:

- accepted: tracking ids answered 200; lost: accepted but not in the database;
- at the SMSC: distinct messages it took; doubled: messages it took more than once;
- delivered; in doubt (`undeliverable`/`IN_DOUBT`), split into those the SMSC took and
  confirmed `DELIVRD` and those it never saw; never sent: final, not delivered and never
  seen by the SMSC; other outcomes; still unfinished at the end.

    .venv/bin/python bench/crash_soak.py --db sqlite
    .venv/bin/python bench/crash_soak.py --db postgresql
    .venv/bin/python bench/crash_soak.py --db postgresql --pg-restart
    # fewer kills (20 s of posting), more sends in flight at each:
    .venv/bin/python bench/crash_soak.py --db sqlite --rate 1000 --batch 10

Defaults: 20,000 messages, one per request, 200/s (100 s of posting, about 33 worker
kills); the product's own defaults otherwise (SMPP window 10, 256 sends in flight per
worker, 30 s lease). The SMSC answers at once and sends each receipt 50 ms later
(`--receipt-delay-ms`; above the 30 s lease, receipts reach a message after it was
given up as in doubt).

Loopback only; every process it starts is stopped at the end (also on Ctrl-C or an
error), the scratch database removed and, with `--pg-restart`, the PostgreSQL server left
running. `--details FILE` writes every message's category with what the SMSC saw and
what the database says, for the odd ones. The exit status is 1 when a message was lost,
doubled or left unfinished, else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import psutil
from common import (
    CASCADE,
    SEND_PATH,
    Conditions,
    Item,
    _cli,
    _die_with_parent,
    _exit_on_sigterm,
    add_quiet_wait_argument,
    busy_seconds,
    free_port,
    install_uvloop,
    log_dir,
    machine_rows,
    own_cpu_seconds,
    query,
    scratch_database,
    table,
    wait_http,
)

BENCH = Path(__file__).resolve().parent
SYSTEM_ID, PASSWORD = "soak", "soak"
FINAL = ("delivered", "read", "expired", "undeliverable", "cancelled")
UNFINISHED = ("scheduled", "processing")
TEXT_MARK = re.compile(r"^Soak (\d{6}):")
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
ATTEMPT_FIELDS = ("step", "channel", "status", "reason", "provider_id", "started_at", "finished_at")
UNFINISHED_SQL = "SELECT count(*) FROM messages WHERE status IN ('scheduled', 'processing')"


def pg_version() -> str:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        raise RuntimeError("no local PostgreSQL cluster in /etc/postgresql")
    return versions[-1]


def pg_ctl(action: str, log: Path | None = None) -> int:
    """`pg_ctlcluster … ACTION`; its output goes to a file, never to a pipe: the server it
    starts could inherit the pipe and keep it open for its whole life."""
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(log.open("ab")) if log else subprocess.DEVNULL
        return subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", pg_version(), "main", action],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        ).returncode


def pg_online() -> bool:
    found = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=False)
    return any(
        line.split()[:2] == [pg_version(), "main"] and "online" in line
        for line in found.stdout.splitlines()
    )


def ensure_pg_running() -> None:
    """The server is up again, whatever happened to the soak."""
    if not pg_online():
        print("PostgreSQL is down: starting it again", file=sys.stderr)
        pg_ctl("start")


# --- the processes it starts ------------------------------------------------------------------


@dataclass
class Proc:
    """One role (the api, a worker, the SMSC), started again after each kill."""

    name: str
    args: list[str]
    env: dict[str, str]
    logs: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    died_alone: list[int] = field(default_factory=list)  # exit codes it ended with unasked
    children_left: int = 0  # children still running after the kill (killed then)
    _started: float = 0.0
    _death_noted: bool = False

    def start(self) -> None:
        self.starts += 1
        self._started, self._death_noted = time.monotonic(), False
        with (self.logs / f"{self.name}.log").open("ab") as out:
            out.write(f"\n=== start {self.starts} at {time.time():.3f}\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                self.args,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # only sets a signal: safe without threads
            )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tree(self) -> list[psutil.Process]:
        if not self.alive():
            return []
        assert self.popen is not None
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """SIGKILL the process itself (not its children: that is the product's business),
        then make sure no child of it outlives it for long."""
        assert self.popen is not None
        children = self.tree()[1:]
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()
        self.kills += 1
        _, alive = psutil.wait_procs(children, timeout=3)
        for child in alive:
            self.children_left += 1
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()

    def check(self) -> int | None:
        """Start it again if it ended on its own, as a supervisor would (at most once a
        second). Returns its exit code when that is first seen."""
        if self.popen is None or self.popen.poll() is None:
            return None
        seen = None
        if not self._death_noted:
            self._death_noted = True
            seen = self.popen.returncode
            self.died_alone.append(seen)
        if time.monotonic() - self._started >= 1.0:
            self.start()
        return seen

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        children = self.tree()[1:]
        self.popen.terminate()
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        _, alive = psutil.wait_procs(children, timeout=5)
        for child in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


class CpuSampler:
    """CPU of everything the soak started (by pid, killed ones at their last sample), of
    this database's PostgreSQL backends, of the load generator, and the rest: others."""

    def __init__(self, procs: list[Proc], database: str | None) -> None:
        self.procs = procs
        self.database = database
        self.ours: dict[int, float] = {}
        self.db: dict[int, float] = {}
        self._base_ours: dict[int, float] = {}
        self._base_db: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for proc in self.procs:
            for p in proc.tree():
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    self.ours[p.pid] = t.user + t.system
        if self.database:
            for p in psutil.process_iter(["name", "cmdline"]):
                title = " ".join(p.info["cmdline"] or ())
                if p.info["name"] == "postgres" and f" {self.database} " in f" {title} ":
                    with contextlib.suppress(psutil.Error):
                        t = p.cpu_times()
                        self.db[p.pid] = t.user + t.system

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> CpuSampler:
        self._sample()
        self._base_ours, self._base_db = dict(self.ours), dict(self.db)
        self._busy, self._client, self._t = busy_seconds(), own_cpu_seconds(), time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.wall = time.monotonic() - self._t
        self.ours_s = sum(v - self._base_ours.get(k, 0.0) for k, v in self.ours.items())
        self.db_s = sum(v - self._base_db.get(k, 0.0) for k, v in self.db.items())
        self.client_s = own_cpu_seconds() - self._client
        self.others_s = max(
            0.0, busy_seconds() - self._busy - self.ours_s - self.db_s - self.client_s
        )

    def rows(self) -> list[tuple[str, str]]:
        def cores(seconds: float) -> str:
            return f"{seconds:.0f} s = {seconds / self.wall:.2f} cores"

        rows = [("CPU: api, workers, SMSC", cores(self.ours_s))]
        if self.database:
            rows.append(("CPU: PostgreSQL backends of this database", cores(self.db_s)))
        rows.append(("CPU: load generator and driver", cores(self.client_s)))
        rows.append(("CPU: OTHER processes (noise)", cores(self.others_s)))
        return rows


# --- the load ---------------------------------------------------------------------------------


def body(start: int, size: int) -> bytes:
    return msgspec.json.encode(
        [
            Item(
                id=f"soak-{n}",
                fromName="Soak",
                toPhone=f"+38050{n % 10_000_000:07d}",
                messageType="transaction",
                # unique within its first 20 characters: what a receipt's "text:" carries
                text=f"Soak {n:06d}: your code is {random.randrange(10**6):06d}.",
            )
            for n in range(start, start + size)
        ]
    )


@dataclass
class Load:
    accepted: dict[str, str] = field(default_factory=dict)  # tracking id -> messageId
    requests: int = 0
    posts: int = 0
    retried: Counter[str] = field(default_factory=Counter)  # why a post was repeated
    gave_up: int = 0  # requests never answered 200 before their deadline
    rejected: Counter[int] = field(default_factory=Counter)  # 4xx other than 429
    changed_id: int = 0  # a retried request answered with another messageId
    worst_s: float = 0.0  # longest from a request's due time to its 200
    posting_s: float = 0.0


async def post_all(
    session: aiohttp.ClientSession, url: str, args: argparse.Namespace, load: Load
) -> None:
    starts = list(range(0, args.messages, args.batch))
    started = time.perf_counter()

    async def one(start: int, due: float) -> None:
        data = body(start, min(args.batch, args.messages - start))
        load.requests += 1
        tries = 0
        while True:
            load.posts += 1
            delay = min(2.0, 0.1 * 2**tries)
            try:
                async with session.post(url, data=data) as answer:
                    payload = await answer.read()
                    status = answer.status
                    if status in RETRYABLE_STATUS:
                        with contextlib.suppress(TypeError, ValueError):
                            delay = min(2.0, float(answer.headers.get("Retry-After", "")))
            except (aiohttp.ClientError, TimeoutError) as error:
                why = type(error).__name__
            else:
                if status == 200:
                    for item in msgspec.json.decode(payload):
                        tracking, message_id = item["trackinId"], item["messageId"]
                        if load.accepted.setdefault(tracking, message_id) != message_id:
                            load.changed_id += 1
                    load.worst_s = max(load.worst_s, time.perf_counter() - due)
                    return
                if status not in RETRYABLE_STATUS:
                    load.rejected[status] += 1
                    print(f"HTTP {status}: {payload[:300]!r}", file=sys.stderr)
                    return
                why = f"HTTP {status}"
            load.retried[why] += 1
            if time.perf_counter() - due > args.request_deadline_s:
                load.gave_up += 1
                return
            tries += 1
            await asyncio.sleep(delay)

    tasks = []
    for i, start in enumerate(starts):
        due = started + i * args.batch / args.rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.ensure_future(one(start, due)))
    await asyncio.gather(*tasks)
    load.posting_s = time.perf_counter() - started


# --- the soak ---------------------------------------------------------------------------------


@dataclass
class Events:
    log: list[tuple[float, int, str]] = field(
        default_factory=list
    )  # (s from start, epoch ms, what)
    api_down_s: float = 0.0
    pg_restart_s: float = 0.0
    settle_s: float = 0.0
    settled: bool = False

    def note(self, t0: float, what: str) -> None:
        self.log.append((time.monotonic() - t0, int(time.time() * 1000), what))


async def wait_healthy(url: str, within_s: float) -> float:
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - started < within_s:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as answer:
                    if answer.status == 200:
                        return time.monotonic() - started
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} not healthy after {within_s} s")


async def chaos(
    args: argparse.Namespace,
    api: Proc,
    workers: list[Proc],
    health: str,
    posting: asyncio.Future[None],
    events: Events,
    t0: float,
) -> None:
    """Kill workers every few seconds and the api once (or restart PostgreSQL once)
    while the posting runs."""
    planned = args.messages / args.rate
    special_at = t0 + planned * (args.pg_restart_at if args.pg_restart else args.api_kill_at)
    special_done = not (args.pg_restart or args.api_kill_at > 0)
    next_kill = time.monotonic() + random.uniform(*args.kill_every)
    while not posting.done():
        now = time.monotonic()
        for proc in (api, *workers):
            if (code := proc.check()) is not None:
                events.note(t0, f"{proc.name} ended on its own ({code}); started again")
        if not special_done and now >= special_at:
            special_done = True
            if args.pg_restart:
                events.note(t0, "PostgreSQL restart")
                began = time.monotonic()
                code = await asyncio.to_thread(pg_ctl, "restart", api.logs / "pg_ctlcluster.log")
                events.pg_restart_s = time.monotonic() - began
                events.note(t0, f"PostgreSQL back ({events.pg_restart_s:.2f} s, rc {code})")
            else:
                events.note(t0, "SIGKILL api")
                began = time.monotonic()
                await asyncio.to_thread(api.kill)
                api.start()
                await wait_healthy(health, 60)
                events.api_down_s = time.monotonic() - began
                events.note(t0, f"api healthy again ({events.api_down_s:.2f} s)")
        if args.kills and now >= next_kill:
            victim = random.choice(workers)
            victim.kill()
            victim.start()
            events.note(t0, f"SIGKILL {victim.name} (pid of the new one {victim.popen.pid})")  # type: ignore[union-attr]
            next_kill = now + random.uniform(*args.kill_every)
        await asyncio.wait({posting}, timeout=0.05)


def smsc_get(admin: int, what: str) -> Any:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/{what}", timeout=60) as got:
        return json.loads(got.read())


async def settle(
    args: argparse.Namespace, url: str, admin: int, procs: list[Proc], events: Events, t0: float
) -> None:
    """Until every message is final and the SMSC has no receipt left to hand on."""
    started = time.monotonic()
    quiet = 0
    last = ""
    while time.monotonic() - started < args.settle_timeout:
        for proc in procs:
            if (code := proc.check()) is not None:
                events.note(t0, f"{proc.name} ended on its own ({code}); started again")
        try:
            unfinished = (await asyncio.to_thread(query, url, UNFINISHED_SQL))[0][0]
            stats = await asyncio.to_thread(smsc_get, admin, "stats")
        except Exception as error:  # the database restarting, say: look again
            unfinished, stats = -1, {}
            last = f"not readable: {type(error).__name__}"
        else:
            now = f"{unfinished} unfinished, {stats['receipts_not_taken']} receipts not taken"
            if now != last:
                events.note(t0, now)
                last = now
        quiet = quiet + 1 if unfinished == 0 and stats.get("receipts_not_taken") == 0 else 0
        if quiet >= 3:
            events.settled = True
            break
        await asyncio.sleep(1)
    events.settle_s = time.monotonic() - started


async def run_soak(
    args: argparse.Namespace,
    base: str,
    api_key: str,
    api: Proc,
    workers: list[Proc],
    url: str,
    admin: int,
    events: Events,
) -> Load:
    load = Load()
    t0 = time.monotonic()
    headers = {"X-Authorization-Key": api_key, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=args.connections)
    timeout = aiohttp.ClientTimeout(total=args.request_timeout_s)
    async with aiohttp.ClientSession(
        headers=headers, connector=connector, timeout=timeout
    ) as session:
        posting = asyncio.ensure_future(post_all(session, base + SEND_PATH, args, load))
        events.note(t0, "posting starts")
        try:
            await chaos(args, api, workers, base + "/healthz", posting, events, t0)
            await posting
        finally:
            if not posting.done():
                posting.cancel()
    events.note(t0, f"posting over ({load.posting_s:.1f} s); killing stops")
    await settle(args, url, admin, [api, *workers], events, t0)
    events.note(t0, "settled" if events.settled else "settle timeout")
    return load


# --- the count --------------------------------------------------------------------------------


def optional(url: str, sql: str) -> list[tuple[Any, ...]] | None:
    try:
        return query(url, sql)
    except Exception:  # a table the schema no longer has
        return None


def count(
    url: str, load: Load, submits: list[dict[str, Any]], messages: int
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    rows = query(url, "SELECT id, tracking_id, status, reason FROM messages")
    db = {tracking: (mid, status, reason) for mid, tracking, status, reason in rows}
    attempts: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in query(
        url,
        "SELECT message_id, step, channel, status, reason, provider_message_id, started_at, "
        "finished_at FROM attempts ORDER BY started_at",
    ):
        attempts[row[0]].append(row[1:])
    seen: dict[str, list[dict[str, Any]]] = defaultdict(list)
    unmarked = 0
    for submit in submits:
        mark = TEXT_MARK.match(submit["text"])
        if mark is None:
            unmarked += 1
            continue
        seen[f"soak-{int(mark.group(1))}"].append(submit)

    category: dict[str, str] = {}
    statuses: Counter[str] = Counter()
    for tracking in load.accepted:
        times = len(seen.get(tracking, ()))
        if tracking not in db:
            category[tracking] = "lost"
            continue
        _, status, reason = db[tracking]
        statuses[f"{status}" + (f" / {reason}" if reason else "")] += 1
        if status in UNFINISHED:
            category[tracking] = "unfinished"
        elif status in ("delivered", "read"):
            category[tracking] = "delivered" if times else "delivered, never at the SMSC"
        elif status == "undeliverable" and reason == "IN_DOUBT":
            category[tracking] = "in doubt, at the SMSC" if times else "in doubt, never sent"
        elif times:
            category[tracking] = "other outcome, at the SMSC"
        else:
            category[tracking] = "other outcome, never sent"
    by = Counter(category.values())
    accepted = len(load.accepted)
    at_smsc = sum(1 for t in load.accepted if seen.get(t))
    doubled = [t for t, s in seen.items() if len(s) > 1]
    confirmed_in_doubt = sum(
        1
        for t, c in category.items()
        if c == "in doubt, at the SMSC" and any(s["receipt_taken_ms"] for s in seen[t])
    )
    never_sent = sum(n for c, n in by.items() if c.endswith("never sent"))
    not_accepted_but_sent = sorted(set(seen) - set(load.accepted))
    stored_not_accepted = sorted(set(db) - set(load.accepted))
    orphans = optional(url, "SELECT count(*) FROM orphan_reports")
    attempt_statuses = Counter(
        f"{a[2]}" + (f" / {a[3]}" if a[3] else "") for rows in attempts.values() for a in rows
    )

    def share(n: int) -> str:
        return f"{n:,} ({n / accepted:.2%})" if accepted else f"{n:,}"

    in_doubt = by["in doubt, at the SMSC"] + by["in doubt, never sent"]
    extra_copies = sum(len(seen[t]) - 1 for t in doubled)
    figures = [
        ("messages offered / accepted (200)", f"{messages:,} / {accepted:,}"),
        ("lost (accepted, not in the database)", f"{by['lost']:,}"),
        ("at the SMSC (distinct messages it took)", share(at_smsc)),
        ("doubled (taken more than once; extra copies)", f"{len(doubled):,}; {extra_copies:,}"),
        ("delivered", share(by["delivered"] + by["delivered, never at the SMSC"])),
        ("in doubt (undeliverable / IN_DOUBT)", share(in_doubt)),
        (
            "  of which the SMSC took (its DELIVRD receipt taken)",
            f"{by['in doubt, at the SMSC']:,} ({confirmed_in_doubt:,})",
        ),
        ("  of which never reached the SMSC", f"{by['in doubt, never sent']:,}"),
        ("never sent (final, never at the SMSC)", share(never_sent)),
        (
            "other outcomes (at the SMSC / never sent)",
            f"{by['other outcome, at the SMSC']:,} / {by['other outcome, never sent']:,}",
        ),
        ("unfinished at the end", f"{by['unfinished']:,}"),
        ("delivered but never at the SMSC", f"{by['delivered, never at the SMSC']:,}"),
        (
            "at the SMSC, not accepted / stored, not accepted",
            f"{len(not_accepted_but_sent):,} / {len(stored_not_accepted):,}",
        ),
        ("submits without the soak's mark", f"{unmarked:,}"),
        ("final message statuses", "; ".join(f"{k} {v:,}" for k, v in statuses.most_common())),
        ("attempt statuses", "; ".join(f"{k} {v:,}" for k, v in attempt_statuses.most_common())),
        ("orphan reports kept at the end", "?" if orphans is None else f"{orphans[0][0]:,}"),
    ]

    def detail(tracking: str) -> dict[str, Any]:
        mid, status, reason = db.get(tracking, (None, None, None))
        return {
            "tracking_id": tracking,
            "message_id": mid,
            "status": status,
            "reason": reason,
            "attempts": [dict(zip(ATTEMPT_FIELDS, a, strict=True)) for a in attempts.get(mid, [])],
            "smsc": seen.get(tracking, []),
        }

    details = {
        "categories": dict(by),
        "odd": {
            c: [detail(t) for t, cc in category.items() if cc == c] for c in by if c != "delivered"
        },
        "doubled": [detail(t) for t in doubled],
        "at_smsc_not_accepted": [detail(t) for t in not_accepted_but_sent],
    }
    return figures, details


def example_lines(details: dict[str, Any], per_category: int) -> list[str]:
    lines = []
    for name, items in [*details["odd"].items(), ("doubled", details["doubled"])]:
        for item in items[:per_category]:
            smsc = "; ".join(
                f"{s['message_id']} at {s['at_ms']} offers [{', '.join(s['offers'])}]"
                f" taken {s['receipt_taken_ms']}"
                for s in item["smsc"]
            )
            tries = "; ".join(
                f"{a['status']}/{a['reason']} id {a['provider_id']} {a['started_at']}"
                f"->{a['finished_at']}"
                for a in item["attempts"]
            )
            lines.append(
                f"[{name}] {item['tracking_id']}: db {item['status']}/{item['reason']}; "
                f"attempts: {tries or '-'}; SMSC: {smsc or 'never'}"
            )
    return lines


# --- main -------------------------------------------------------------------------------------


def stop_all(procs: list[Proc], db: str) -> None:
    """Stop everything the soak started; leave PostgreSQL running."""
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.stop()
    if db == "postgresql":
        ensure_pg_running()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=200, help="messages/s offered")
    parser.add_argument("--batch", type=int, default=1, help="messages per request")
    parser.add_argument(
        "--kill-every", type=float, nargs=2, default=(2.0, 4.0), metavar=("MIN", "MAX"),
        help="seconds between two worker kills (uniform)",
    )  # fmt: skip
    parser.add_argument("--no-kills", dest="kills", action="store_false", help="kill no worker")
    parser.add_argument(
        "--api-kill-at", type=float, default=0.5,
        help="kill the api once at this share of the posting time (0: never)",
    )  # fmt: skip
    parser.add_argument(
        "--pg-restart", action="store_true",
        help="PostgreSQL only: restart the server once, kill no process",
    )  # fmt: skip
    parser.add_argument("--pg-restart-at", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    parser.add_argument("--settle-timeout", type=float, default=240)
    parser.add_argument("--request-timeout-s", type=float, default=30)
    parser.add_argument("--request-deadline-s", type=float, default=180)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--receipt-delay-ms", type=float, default=50)
    parser.add_argument("--seed", type=int, help="for the kill times and victims")
    parser.add_argument("--details", help="write every odd message's story here (JSON)")
    parser.add_argument("--logs", help="keep the processes' logs in this directory")
    parser.add_argument("--examples", type=int, default=3, help="odd messages shown per kind")
    add_quiet_wait_argument(parser)
    args = parser.parse_args()
    if args.pg_restart:
        if args.db != "postgresql":
            parser.error("--pg-restart needs --db postgresql")
        args.kills = False
        args.api_kill_at = 0
    return args


def main() -> int:
    args = parse_args()
    if args.seed is not None:
        random.seed(args.seed)
    _exit_on_sigterm()
    install_uvloop()
    conditions = Conditions.settle(args.quiet_wait)
    machine = machine_rows()
    started = time.monotonic()
    procs: list[Proc] = []
    events = Events()
    try:
        with scratch_database(args.db) as url, log_dir(args.logs, "cascade-soak-") as logs:
            try:
                port, smpp, admin = free_port(), free_port(), free_port()
                env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
                env.update(
                    CASCADE_DATABASE_URL=url,
                    CASCADE_PUBLIC_URL=f"http://127.0.0.1:{port}",
                    CASCADE_SEND_RATE="1000000",
                    CASCADE_SEND_BURST="1000000",
                    CASCADE_LOG_LEVEL="warning",
                    CASCADE_CHANNELS="sms",
                    CASCADE_SMPP_HOST="127.0.0.1",
                    CASCADE_SMPP_PORT=str(smpp),
                    CASCADE_SMPP_SYSTEM_ID=SYSTEM_ID,
                    CASCADE_SMPP_PASSWORD=PASSWORD,
                )
                _cli(["migrate"], env)
                account = json.loads(_cli(["accounts", "create", "soak", "--json"], env))
                _cli(["accounts", "channels", account["accountId"], "sms"], env)
                smsc = Proc(
                    "smsc",
                    [
                        sys.executable, str(BENCH / "recording_smsc.py"), "--port", str(smpp),
                        "--admin-port", str(admin), "--system-id", SYSTEM_ID,
                        "--receipt-delay-ms", str(args.receipt_delay_ms),
                        "--record", str(logs / "smsc-record.jsonl"),
                    ],
                    env, logs,
                )  # fmt: skip
                api = Proc(
                    "api",
                    [*CASCADE, "api", "--host", "127.0.0.1", "--port", str(port),
                     "--server", args.server],
                    env, logs,
                )  # fmt: skip
                workers = [
                    Proc(f"worker{n}", [*CASCADE, "worker"], env, logs) for n in range(args.workers)
                ]
                procs = [smsc, api, *workers]
                smsc.start()
                wait_http(f"http://127.0.0.1:{admin}/stats")
                api.start()
                wait_http(f"http://127.0.0.1:{port}/healthz")
                for worker in workers:
                    worker.start()
                database = url.rsplit("/", 1)[1] if args.db == "postgresql" else None
                with CpuSampler(procs, database) as cpu:
                    load = asyncio.run(
                        run_soak(
                            args,
                            f"http://127.0.0.1:{port}",
                            account["apiKey"],
                            api,
                            workers,
                            url,
                            admin,
                            events,
                        )
                    )
                conditions.measured()
                stats = smsc_get(admin, "stats")
                submits = smsc_get(admin, "submits")
                figures, details = count(url, load, submits, args.messages)
            finally:  # before the scratch database is dropped
                stop_all(procs, args.db)
    finally:
        stop_all(procs, args.db)
    wall = time.monotonic() - started

    worker_kills = sum(w.kills for w in workers)
    retried = ", ".join(f"{k} {v}" for k, v in load.retried.most_common()) or "none"
    alone = (
        "; ".join(
            f"{p.name} {len(p.died_alone)}x (exit {', '.join(map(str, sorted(set(p.died_alone))))})"
            for p in procs
            if p.died_alone
        )
        or "none"
    )
    settled = "all final" if events.settled else "TIMED OUT"
    pg_restart = f"{events.pg_restart_s:.2f} s" if args.pg_restart else "-"
    s = stats
    run = [
        ("database", args.db),
        (
            "messages / per request / offered rate",
            f"{args.messages:,} / {args.batch} / {args.rate:,.0f} msg/s",
        ),
        ("processes", f"1 api ({args.server}), {args.workers} workers, recording SMSC (smpp34)"),
        ("posting took", f"{load.posting_s:.1f} s"),
        ("requests / posts (retried: why)", f"{load.requests:,} / {load.posts:,} ({retried})"),
        (
            "requests given up / rejected / answered with another id",
            f"{load.gave_up} / {sum(load.rejected.values())} / {load.changed_id}",
        ),
        ("worst due-to-200", f"{load.worst_s:.2f} s"),
        ("worker SIGKILLs (started again at once)", f"{worker_kills}"),
        ("api SIGKILLs / down (kill to healthy)", f"{api.kills} / {events.api_down_s:.2f} s"),
        ("api children left after its SIGKILL", f"{api.children_left}"),
        ("ended on their own (exit codes)", alone),
        ("PostgreSQL restart (command took)", pg_restart),
        ("settle after posting", f"{events.settle_s:.1f} s ({settled})"),
        ("SMSC: binds / unbinds / submits", f"{s['binds']} / {s['unbinds']} / {s['submits']:,}"),
        (
            "SMSC: receipts offered / taken / refused / lost on a link",
            f"{s['receipts_offered']:,} / {s['receipts_taken']:,} / "
            f"{s['receipts_refused']:,} / {s['receipts_lost']:,}",
        ),
        ("SMSC: receipts never taken at the end", f"{s['receipts_not_taken']:,}"),
        *cpu.rows(),
        *conditions.rows(),
        ("whole run", f"{wall:.0f} s"),
    ]
    command = " ".join(shlex.quote(a) for a in [f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    print(f"command: {command}")
    print(table(machine, "Machine"))
    print(table(run, "Crash soak: the run"))
    print(table(figures, "Crash soak: every accepted message"))
    print("events (s from the start, epoch ms):")
    for at, epoch, what in events.log:
        if not what.startswith("SIGKILL worker"):
            print(f"  {at:7.1f}  {epoch}  {what}")
    kills = [
        f"{at:.1f} ({what.split()[1]})"
        for at, _, what in events.log
        if what.startswith("SIGKILL worker")
    ]
    print("worker SIGKILLs at (s):", ", ".join(kills) or "none")
    examples = example_lines(details, args.examples)
    if examples:
        print("odd messages (examples):")
        for line in examples:
            print("  " + line)
    if args.details:
        details["events"] = events.log
        details["figures"] = figures
        details["run"] = [("command", command), *run]
        Path(args.details).write_text(json.dumps(details, indent=1, default=str))
    cats = details["categories"]
    bad = cats.get("lost", 0) + len(details["doubled"]) + cats.get("unfinished", 0)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
