"""Shared pieces of the benchmarks: a fresh database, a live API server, the client side.

`live_server()` creates a scratch database (a SQLite file in a temporary directory, or a
PostgreSQL database that is dropped afterwards), migrates it, creates one account with the
`cascade` CLI and starts `cascade api` on a free loopback port. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import psutil

# the repository's root, for the loopback port picker the tests use as well
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.ports import free_port

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SEND_PATH = "/api/CascadeMessage/send_message/async"
CASCADE = [sys.executable, "-m", "cascade"]
# valid UA mobile numbers ending in 6: plain phones, whose SMSC script says DELIVRD 50 ms
# after the submit (and that have no chat, subscription or RCS anywhere else)
SMS_PHONES = [f"+38050{n:06d}6" for n in range(1000)]


# --- the database -------------------------------------------------------------------------


def _pg_admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql://", "postgres://", 1))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@contextlib.contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    """Yield the URL of a new, empty database of `kind`; remove it afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    if kind != "postgresql":
        raise ValueError(kind)
    name = f"cascade_bench_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one plain SQL query (no parameters) against either database."""
    if url.startswith("sqlite"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            return [tuple(row) for row in db.execute(sql).fetchall()]
    import asyncpg

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url.replace("postgresql://", "postgres://", 1))
        try:
            return [tuple(row) for row in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(run())


def count_messages(url: str) -> int:
    """Rows in `messages`: what the server committed."""
    return int(query(url, "SELECT count(*) FROM messages")[0][0])


_PREFILL_SQLITE = (
    "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?) "
    "INSERT INTO messages (id, account_id, tracking_id, fingerprint, route, message_type, "
    "from_name, phone, text, ttl, status, created_at, expires_at, updated_at) "
    "SELECT printf('pre-%032d', n), ?, 'pre-' || n, randomblob(16), 'standard', "
    "'transaction', 'Bench', printf('+38050%07d', n % 10000000), 'Your code is 123456.', "
    "86400, 'delivered', 0, 0, 0 FROM g"
)
_PREFILL_POSTGRESQL = (
    "INSERT INTO messages (id, account_id, tracking_id, fingerprint, route, message_type, "
    "from_name, phone, text, ttl, status, created_at, expires_at, updated_at) "
    "SELECT 'pre-' || lpad(n::text, 32, '0'), $1, 'pre-' || n, decode(md5(n::text), 'hex'), "
    "'standard', 'transaction', 'Bench', '+38050' || lpad((n % 10000000)::text, 7, '0'), "
    "'Your code is 123456.', 86400, 'delivered', 0, 0, 0 FROM generate_series(1, $2::int) AS n"
)
_PREFILL_TASKS = "INSERT INTO tasks (message_id, due_at) SELECT id, 0 FROM messages"


def prefill(url: str, account_id: str, count: int) -> None:
    """Insert `count` messages (and their tasks) straight with SQL, then ANALYZE.

    This stands for a database that has been in use for a while: the tables and their
    indexes are large and PostgreSQL has statistics (a fresh table has none until
    autovacuum's first ANALYZE, which changes the plans of the intake's lookups).
    """
    if url.startswith("sqlite"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            db.execute(_PREFILL_SQLITE, (count, account_id))
            db.execute(_PREFILL_TASKS)
            db.commit()
            db.execute("ANALYZE")
        return
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(url.replace("postgresql://", "postgres://", 1))
        try:
            await conn.execute(_PREFILL_POSTGRESQL, account_id, count)
            await conn.execute(_PREFILL_TASKS)
            await conn.execute("ANALYZE")
        finally:
            await conn.close()

    asyncio.run(run())


# --- the server ---------------------------------------------------------------------------


def admin_count(admin: int, what: str) -> int:
    """How many entries the SMSC simulator's admin API lists under /_sim/`what`."""
    url = f"http://127.0.0.1:{admin}/_sim/{what}"
    with urllib.request.urlopen(url, timeout=30) as got:
        return len(json.loads(got.read()))


@dataclass
class Server:
    base_url: str
    api_key: str
    database_url: str
    server: str
    workers: int
    process: subprocess.Popen[bytes]
    env: dict[str, str] = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Authorization-Key": self.api_key, "Content-Type": "application/json"}

    def processes(self) -> list[psutil.Process]:
        """The server's process and its children (granian runs its workers as children)."""
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]


def _cli(args: Sequence[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [*CASCADE, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"cascade {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the benchmark dies, so no server is left behind."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _exit_on_sigterm() -> None:
    """SIGTERM ends the benchmark through SystemExit, so `finally` stops the server."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def _wait_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server at {url} did not come up in {timeout}s")


@contextlib.contextmanager
def live_server(
    db: str,
    server: str,
    *,
    workers: int = 1,
    sqlite_synchronous: str = "FULL",
    prefill_messages: int = 0,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """A migrated scratch database, one account, and `cascade api` serving it."""
    _exit_on_sigterm()
    with scratch_database(db) as url:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
        env.update(
            CASCADE_DATABASE_URL=url,
            CASCADE_PUBLIC_URL=f"http://127.0.0.1:{port}",
            CASCADE_SEND_RATE="1000000",
            CASCADE_SEND_BURST="1000000",
            CASCADE_SQLITE_SYNCHRONOUS=sqlite_synchronous,
            CASCADE_LOG_LEVEL="warning",
        )
        env.update(extra_env or {})
        _cli(["migrate"], env)
        account = json.loads(_cli(["accounts", "create", "bench", "--json"], env))
        if prefill_messages:
            prefill(url, account["accountId"], prefill_messages)
        process = subprocess.Popen(
            [
                *CASCADE,
                "api",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--server",
                server,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,  # only sets a signal: safe without threads
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_up(base + "/healthz", process)
            yield Server(base, account["apiKey"], url, server, workers, process, env)
        finally:
            stop(process)


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker_command(profile: str | None = None) -> list[str]:
    """`cascade worker`, under cProfile into `profile` if given (it exits cleanly on
    SIGTERM, so the profile is written)."""
    if profile:
        return [sys.executable, "-m", "cProfile", "-o", profile, "-m", "cascade", "worker"]
    return [*CASCADE, "worker"]


def wait_http(url: str, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 - loopback
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            # kill what is left of this server's own tree, by pid
            with contextlib.suppress(psutil.NoSuchProcess):
                for child in psutil.Process(process.pid).children(recursive=True):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        child.kill()
            process.kill()
            process.wait()
    if process.stderr is not None:
        tail = process.stderr.read().decode(errors="replace").strip()
        if tail:
            print("--- server stderr (tail) ---\n" + tail[-2000:], file=sys.stderr)


# --- a benchmark's server, from its command line --------------------------------------------


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """--db, --server, --workers: the server under test (see `server_from_args`)."""
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    parser.add_argument("--workers", type=int, default=1, help="server processes")


def add_quiet_wait_argument(parser: argparse.ArgumentParser) -> None:
    """--quiet-wait: how long to wait for an idle machine (see `Conditions.settle`)."""
    parser.add_argument(
        "--quiet-wait", type=float, default=120, help="wait up to this many s for an idle machine"
    )


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """--prefill, --sqlite-synchronous: the database the server starts on."""
    parser.add_argument(
        "--prefill",
        type=int,
        default=0,
        help="insert this many messages with SQL (and ANALYZE) before starting the server",
    )
    parser.add_argument(
        "--sqlite-synchronous",
        default="FULL",
        choices=["OFF", "NORMAL", "FULL", "EXTRA"],
        help="server's PRAGMA synchronous (FULL is the product default)",
    )


def server_from_args(args: argparse.Namespace) -> contextlib.AbstractContextManager[Server]:
    """`live_server` as `add_server_arguments` and `add_database_arguments` set it up."""
    return live_server(
        args.db,
        args.server,
        workers=args.workers,
        sqlite_synchronous=args.sqlite_synchronous,
        prefill_messages=args.prefill,
    )


@dataclass
class Conditions:
    """How busy the machine was around a measurement, for the report."""

    quiet: str
    load_before: str
    load_after: str = "?"

    @classmethod
    def settle(cls, quiet_wait: float) -> Conditions:
        """Wait up to `quiet_wait` s (0: not at all) for an idle machine; note the load."""
        quiet = wait_for_quiet(quiet_wait) if quiet_wait > 0 else "not waited"
        return cls(quiet, load_now())

    def measured(self) -> None:
        """Note the load once the measurement is over."""
        self.load_after = load_now()

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("machine before the run", self.quiet),
            ("load average before / after", f"{self.load_before} / {self.load_after}"),
        ]


# --- request bodies -----------------------------------------------------------------------


class Item(msgspec.Struct):
    id: str
    fromName: str  # noqa: N815 - wire name
    toPhone: str  # noqa: N815
    messageType: str  # noqa: N815
    text: str


_encode = msgspec.json.encode


def batch_body(prefix: str, start: int, size: int) -> bytes:
    """A JSON array of `size` valid messages with distinct tracking ids."""
    return _encode(
        [
            Item(
                id=f"{prefix}-{n}",
                fromName="Bench",
                toPhone=f"+38050{n % 10_000_000:07d}",
                messageType="transaction",
                text=f"Your code is {n % 1_000_000:06d}. It expires in 10 minutes.",
            )
            for n in range(start, start + size)
        ]
    )


# --- numbers and reporting ----------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def latency_summary(latencies_s: Sequence[float]) -> dict[str, float]:
    ordered = sorted(latencies_s)
    ms = 1000.0
    return {
        "p50": percentile(ordered, 50) * ms,
        "p90": percentile(ordered, 90) * ms,
        "p99": percentile(ordered, 99) * ms,
        "p99.9": percentile(ordered, 99.9) * ms,
        "max": (ordered[-1] * ms) if ordered else float("nan"),
    }


def fresh_or_prefilled(prefill: int) -> str:
    return f"{prefill:,} (inserted by SQL, ANALYZE)" if prefill else "0 (fresh database)"


def table(rows: Sequence[tuple[str, str]], title: str) -> str:
    width = max(len(name) for name, _ in rows)
    vwidth = max(len(value) for _, value in rows)
    line = "-" * (width + vwidth + 5)
    out = [title, line]
    out += [f"| {name:<{width}} | {value:>{vwidth}} |" for name, value in rows]
    out.append(line)
    return "\n".join(out)


def machine_rows() -> list[tuple[str, str]]:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        (
            "machine",
            f"{os.cpu_count()} CPU, {cpu}, {psutil.virtual_memory().total / 2**30:.1f} GiB",
        ),
        ("python", platform.python_version()),
        ("niceness of the benchmark and its server", str(os.nice(0))),
        ("code (git)", code_version()),
        ("load average at start (1/5/15 min)", load),
    ]


def code_version() -> str:
    """The commit measured, and whether src/ differs from it (other sessions edit it)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"
    return f"{head} ({'src/ MODIFIED' if dirty else 'src/ clean'})"


def load_now() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def install_uvloop() -> None:
    """The client runs on uvloop when available: less CPU taken from the server."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


class RssSampler:
    """Samples the memory of the server's processes in a background thread.

    RSS counts a page shared by a forked worker and its parent in both, so the sum over
    the tree overstates; PSS (proportional set size) divides shared pages among their
    users and sums to what the tree really holds.
    """

    def __init__(self, server: Server, interval: float = 0.2) -> None:
        self._server = server
        self._interval = interval
        self.peak_total = 0  # sum of RSS over the tree
        self.peak_single = 0  # RSS of the largest process
        self.peak_pss = 0  # sum of PSS over the tree
        self.largest_now = 0
        self.pss_now = 0
        self.samples: list[tuple[float, int]] = []  # (monotonic time, total rss)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> int:
        """Take one sample now; return the sum of RSS over the tree."""
        total = single = pss = 0
        for proc in self._server.processes():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                info = proc.memory_full_info()
                total += info.rss
                single = max(single, info.rss)
                pss += info.pss
        with self._lock:
            self.peak_total = max(self.peak_total, total)
            self.peak_single = max(self.peak_single, single)
            self.peak_pss = max(self.peak_pss, pss)
            self.largest_now = single
            self.pss_now = pss
            self.samples.append((time.monotonic(), total))
        return total

    def __enter__(self) -> RssSampler:
        def run() -> None:
            while not self._stop.is_set():
                with contextlib.suppress(psutil.NoSuchProcess):
                    self.sample()
                self._stop.wait(self._interval)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def mib(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


def cpu_seconds(processes: Sequence[psutil.Process]) -> float:
    """User + system CPU time consumed so far by these processes."""
    total = 0.0
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def own_cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


def database_processes(server: Server) -> list[psutil.Process]:
    """PostgreSQL backends serving the benchmark's own database (none for SQLite).

    A backend's process title names its database; other sessions' backends and the
    shared background processes (WAL writer, checkpointer) are not counted.
    """
    if not server.database_url.startswith("postgresql"):
        return []
    name = server.database_url.rsplit("/", 1)[1]
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        title = " ".join(proc.info["cmdline"] or ())
        if proc.info["name"] == "postgres" and f" {name} " in f" {title} ":
            found.append(proc)
    return found


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all cores)."""
    times = psutil.cpu_times()._asdict()
    # guest time is already counted in user time
    idle = ("idle", "iowait", "guest", "guest_nice")
    return sum(v for k, v in times.items() if k not in idle)


class CpuAccount:
    """CPU used during a run by the server, PostgreSQL, this load generator, and others.

    "Others" (busy machine time minus the three) is the noise: other sessions' tests
    running on the same two cores.
    """

    def __init__(self, server: Server) -> None:
        self._server = server
        self.procs = server.processes()
        self.is_postgresql = server.database_url.startswith("postgresql")
        self.server = self.db = self.client = self.others = self.wall = 0.0

    def __enter__(self) -> CpuAccount:
        self._t = time.perf_counter()
        self._s = cpu_seconds(self.procs)
        self._d = {proc.pid: cpu_seconds([proc]) for proc in database_processes(self._server)}
        self._c, self._b = own_cpu_seconds(), busy_seconds()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self._t
        self.server = cpu_seconds(self.procs) - self._s
        # A backend started during the run counts whole; one that ended is lost (rare).
        self.db = sum(
            cpu_seconds([proc]) - self._d.get(proc.pid, 0.0)
            for proc in database_processes(self._server)
        )
        self.client = own_cpu_seconds() - self._c
        busy = busy_seconds() - self._b
        self.others = max(0.0, busy - self.server - self.db - self.client)

    def rows(self, per: int | None = None) -> list[tuple[str, str]]:
        def cores(seconds: float) -> str:
            return f"{seconds:.1f} s = {seconds / self.wall:.2f} cores"

        rows = [("server CPU (all its processes)", cores(self.server))]
        if self.is_postgresql:
            rows.append(("PostgreSQL CPU (backends of this database)", cores(self.db)))
        rows.append(("load generator CPU", cores(self.client)))
        rows.append(("OTHER processes' CPU (noise)", cores(self.others)))
        if per:
            rows.append(("server CPU per 1,000 messages", f"{self.server / per * 1e6:.1f} ms"))
        return rows


def wait_for_quiet(max_wait: float, busy_below: float = 0.25, seconds: int = 3) -> str:
    """Wait (at most max_wait s) until the machine is nearly idle for a few seconds.

    Other sessions run tests on this machine; starting a measurement in a quiet moment
    makes the figures less noisy. Returns what was seen, for the report.
    """
    deadline = time.monotonic() + max_wait
    quiet = 0
    waited = time.monotonic()
    level = 0.0
    while True:
        level = psutil.cpu_percent(interval=1.0) / 100 * (os.cpu_count() or 1)
        quiet = quiet + 1 if level < busy_below else 0
        if quiet >= seconds:
            return f"quiet after {time.monotonic() - waited:.0f} s (busy {level:.2f} cores)"
        if time.monotonic() >= deadline:
            return f"NOT quiet after {max_wait:.0f} s (busy {level:.2f} cores): ran anyway"


@contextlib.contextmanager
def log_dir(keep: str | None, prefix: str) -> Iterator[Path]:
    """Where a run's logs go: `keep` (made if missing, left afterwards), else a temporary
    directory removed at the end."""
    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)
