"""Where a bulk send spends its time: a profile of the intake hot path.

Two ways:

* in process (default): the app is built with `cascade.bootstrap.build_app` on a fresh,
  migrated database and driven straight through its ASGI interface by a few concurrent
  tasks, under pyinstrument. No server and no sockets, so the profile is the app alone.
  pyinstrument samples only the event loop's thread: with SQLite, the statements run in
  aiosqlite's thread and show up as time awaited.

* --py-spy PATH: a real `cascade api` server is started and the bulk load of
  intake_bulk.py is sent to it while py-spy (`pip install py-spy`) samples every thread
  of the process that serves requests. This includes the server (granian or uvicorn) and
  the driver threads.

Both print the time by category (JSON decode, validation, uuid, SQL, driver, ...) and the
functions with the most time of their own.

    .venv/bin/python bench/profile_intake.py --db sqlite
    .venv/bin/python bench/profile_intake.py --db postgresql --py-spy /tmp/pyspy/bin/py-spy
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import (
    SEND_PATH,
    batch_body,
    install_uvloop,
    live_server,
    machine_rows,
    prefill,
    scratch_database,
    table,
)

# (category, substrings of the file path); the first match wins, applied to the frame
# that was running when the sample was taken.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("JSON decode into structs (msgspec, wire.py)", ("cascade/api/wire.py",)),
    ("intake loop: fingerprint encode+hash, objects", ("cascade/api/intake.py",)),
    ("validation (domain rules, E.164 regex)", ("cascade/domain/",)),
    ("uuid4", ("/uuid.py",)),
    ("store: row dicts and lookup (sql/intake.py)", ("cascade/store/",)),
    ("SQLAlchemy Core (compile, params, results)", ("sqlalchemy/",)),
    ("asyncpg driver", ("asyncpg/",)),
    ("SQLite driver (aiosqlite thread, sqlite3)", ("aiosqlite/", "sqlite3/")),
    ("auth, rate limit, handler, response encode", ("cascade/api/", "cascade/security.py")),
    ("Litestar", ("litestar/",)),
    ("msgspec (other)", ("msgspec/",)),
    ("granian", ("granian/",)),
    ("uvicorn / httptools", ("uvicorn/", "httptools/")),
    ("event loop and threads", ("asyncio/", "uvloop/", "threading.py", "queue.py", "concurrent/")),
]


IDLE = ("epoll.poll", "select", "poll", "_run_once", "wait", "acquire", "get")


def category(function: str, path: str) -> str:
    if function in IDLE or function.endswith((".poll", ".select")):
        return "idle: waiting (epoll, locks, queues)"
    path = path.replace("\\", "/")
    for name, needles in CATEGORIES:
        if any(needle in path for needle in needles):
            return name
    return "other (" + Path(path).name + ")" if path else "other"


def report(own: collections.Counter[tuple[str, str]], unit: str, top: int) -> None:
    """own: (function, file:line) → time or samples spent in that frame itself."""
    total = sum(own.values()) or 1
    by_category: collections.Counter[str] = collections.Counter()
    for (function, where), amount in own.items():
        by_category[category(function, where.rsplit(":", 1)[0])] += amount
    rows = [(name, f"{amount / total:6.1%}") for name, amount in by_category.most_common()]
    print(table(rows, f"Time by category (share of {total:,.0f} {unit}, own time)"))
    rows = [
        (f"{function}  {short(where)}", f"{amount / total:6.1%}")
        for (function, where), amount in own.most_common(top)
    ]
    print(table(rows, f"Top {top} frames by own time"))


def short(where: str) -> str:
    for marker in ("site-packages/", "lib/python3", "src/"):
        if marker in where:
            return where.split(marker, 1)[1]
    return where


# --- in process, pyinstrument ------------------------------------------------------------


async def drive_asgi(
    app: Any, headers: list[tuple[bytes, bytes]], bodies: list[bytes], conc: int
) -> None:
    queue = iter(bodies)

    async def one(body: bytes) -> None:
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": SEND_PATH,
            "raw_path": SEND_PATH.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8080),
            "state": {},
        }
        await app(scope, receive, send)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {b''.join(chunks)[:300]!r}")

    async def worker() -> None:
        for body in queue:
            await one(body)

    await asyncio.gather(*(worker() for _ in range(conc)))


def in_process(args: argparse.Namespace) -> None:
    from pyinstrument import Profiler

    from cascade.bootstrap import build_app
    from cascade.clock import SystemClock
    from cascade.config import Settings
    from cascade.security import hash_secret, new_api_key
    from cascade.store.migrate import upgrade
    from cascade.store.sql import SqlStore

    with scratch_database(args.db) as url:
        upgrade(url)
        settings = Settings(
            database_url=url,
            send_rate=1e6,
            send_burst=1_000_000,
            sqlite_synchronous=args.sqlite_synchronous,
            log_level="warning",
        )

        async def main() -> Profiler:
            store = SqlStore(
                url, SystemClock(), sqlite_synchronous=args.sqlite_synchronous, pool_size=10
            )
            account = await store.create_account("bench", "Bench")
            key = new_api_key()
            await store.add_api_key(account.id, hash_secret(key))
            if args.prefill:
                await asyncio.to_thread(prefill, url, account.id, args.prefill)
            app = build_app(settings, store=store)
            headers = [
                (b"x-authorization-key", key.encode()),
                (b"content-type", b"application/json"),
            ]
            warm = [batch_body("warm", i * args.batch, args.batch) for i in range(3)]
            bodies = [batch_body("prof", i * args.batch, args.batch) for i in range(args.requests)]
            await drive_asgi(app, headers, warm, args.concurrency)
            profiler = Profiler(interval=0.001, async_mode="disabled")
            started = time.perf_counter()
            profiler.start()
            await drive_asgi(app, headers, bodies, args.concurrency)
            profiler.stop()
            wall = time.perf_counter() - started
            messages = args.requests * args.batch
            print(f"in process: {messages:,} messages in {wall:.2f} s = {messages / wall:,.0f}/s")
            await store.close()
            return profiler

        profiler = asyncio.run(main())
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    own: collections.Counter[tuple[str, str]] = collections.Counter()
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    for amount, function, where in _leaves(root, ("?", "")):
        own[(function, where)] += amount
    report(own, "s sampled on the event loop thread", args.top)


def _leaves(frame: Any, caller: tuple[str, str]) -> Iterator[tuple[float, str, str]]:
    """(time, function, file:line) for each leaf of pyinstrument's tree.

    Synthetic frames ('[self]', '[await]') take their parent's name; a built-in (C)
    function keeps its own name but its caller's file, so msgspec's decoder counts under
    wire.py and epoll under the event loop.
    """
    function, path = frame.function or "?", frame.file_path or ""
    if function.startswith("["):
        function, where = caller
    elif path in ("", "<built-in>") or path.startswith("<"):
        where = caller[1]
    else:
        where = f"{path}:{frame.line_no}"
    if not frame.children:
        yield frame.time, function, where
        return
    for child in frame.children:
        yield from _leaves(child, (function, where))


# --- a live server, py-spy ---------------------------------------------------------------


def with_py_spy(args: argparse.Namespace) -> None:
    import intake_bulk

    install_uvloop()
    requests = args.requests
    bodies = [batch_body("spy", i * args.batch, args.batch) for i in range(requests)]
    with (
        live_server(
            args.db,
            args.server,
            sqlite_synchronous=args.sqlite_synchronous,
            prefill_messages=args.prefill,
        ) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        procs = server.processes()
        target = procs[-1]  # the worker under granian; the only process under uvicorn
        out = Path(tmp) / "profile.txt"
        asyncio.run(intake_bulk.drive(server, bodies[:3], args.batch, 1))  # warm up
        spy = subprocess.Popen(
            [args.py_spy, "record", "--pid", str(target.pid), "--format", "raw",
             "--output", str(out), "--rate", "200", "--threads",
             *(["--gil"] if args.gil else [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(1.0)  # py-spy attaches
        wall, _, accepted = asyncio.run(
            intake_bulk.drive(server, bodies[3:], args.batch, args.concurrency)
        )
        spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
        _, err = spy.communicate(timeout=60)
        print(
            f"live {args.server}: {accepted:,} messages in {wall:.2f} s = {accepted / wall:,.0f}/s"
        )
        if not out.exists():
            raise RuntimeError(f"py-spy wrote nothing: {err.decode(errors='replace')}")
        text = out.read_text()
        if args.raw_out:
            Path(args.raw_out).write_text(text)
    own: collections.Counter[tuple[str, str]] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        threads[frames[0]] += int(count)
        leaf = frames[-1]
        function, _, where = leaf.partition(" (")
        own[(function, where.rstrip(")"))] += int(count)
    print(table([(name, f"{n:,}") for name, n in threads.most_common()], "Samples by thread"))
    report(own, "samples, " + ("GIL holder only" if args.gil else "all threads"), args.top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    parser.add_argument("--batch", type=int, default=1000, help="messages per request")
    parser.add_argument("--requests", type=int, default=100, help="requests profiled")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent requests")
    parser.add_argument("--top", type=int, default=25, help="frames listed")
    parser.add_argument("--py-spy", default=None, help="path of py-spy: profile a live server")
    parser.add_argument(
        "--gil", action="store_true", help="py-spy: only samples holding the GIL (Python CPU)"
    )
    parser.add_argument("--prefill", type=int, default=0, help="messages stored beforehand")
    parser.add_argument("--raw-out", default=None, help="py-spy: keep the collapsed stacks here")
    parser.add_argument(
        "--sqlite-synchronous", default="FULL", choices=["OFF", "NORMAL", "FULL", "EXTRA"]
    )
    args = parser.parse_args()
    print(table(machine_rows(), "Machine"))
    if args.py_spy:
        with_py_spy(args)
    else:
        os.environ.setdefault("CASCADE_LOG_LEVEL", "warning")
        in_process(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
