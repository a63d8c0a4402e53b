"""SMS end to end: HTTP API -> engine -> SMPP simulator, receipts flowing back (issue 4).

Three processes on loopback: `cascade api`, `cascade worker` (the SMS channel only, its
rate limits off) and the SMSC simulator (`cascade simulate sms`, a real SMPP server).
The load generator posts requests of `--batch` messages at `--rate` messages/s (open
loop) to phones whose SMSC script answers DELIVRD 50 ms after the submit. When every
message is final the database tells, per message, when it was accepted and when its
receipt was recorded; the simulator tells how many submits it took (each exactly once).

    .venv/bin/python bench/sms_end_to_end.py --db sqlite --messages 30000 --rate 2000
    .venv/bin/python bench/sms_end_to_end.py --db postgresql --messages 30000 --rate 3000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import msgspec
import psutil
from common import (
    CASCADE,
    SEND_PATH,
    SMS_PHONES,
    Item,
    admin_count,
    busy_seconds,
    cpu_seconds,
    free_port,
    live_server,
    machine_rows,
    percentile,
    process,
    query,
    table,
    wait_http,
    worker_command,
)
from database_size import size_rows


def body(start: int, size: int) -> bytes:
    return msgspec.json.encode(
        [
            Item(
                id=f"sms-{n}",
                fromName="Bench",
                toPhone=SMS_PHONES[n % len(SMS_PHONES)],
                messageType="transaction",
                text=f"Your code is {n % 1_000_000:06d}.",
            )
            for n in range(start, start + size)
        ]
    )


async def post_at_rate(
    base_url: str, headers: dict[str, str], bodies: list[bytes], batch: int, rate: float
) -> tuple[float, float]:
    """Post each body at its time (open loop); returns (seconds posting, worst lag in s)."""
    lag = 0.0
    async with aiohttp.ClientSession(
        headers=headers, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:

        async def post(data: bytes) -> None:
            async with session.post(base_url + SEND_PATH, data=data) as answer:
                payload = await answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"HTTP {answer.status}: {payload[:300]!r}")

        started = time.perf_counter()
        posts = []
        for n, data in enumerate(bodies):
            due = started + n * batch / rate
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            lag = max(lag, -wait)
            posts.append(asyncio.ensure_future(post(data)))
        await asyncio.gather(*posts)
        return time.perf_counter() - started, lag


def unfinished(url: str) -> bool:
    """Any message not final yet (a cheap look: the poll must not load the database)."""
    return bool(query(url, "SELECT EXISTS (SELECT 1 FROM tasks)")[0][0])


def outcome(url: str) -> tuple[dict[str, int], list[int], int, int]:
    """(messages per status, accept-to-receipt ms sorted, first accept, last receipt)."""
    statuses = dict(query(url, "SELECT status, count(*) FROM messages GROUP BY status"))
    rows = query(
        url,
        "SELECT m.created_at, a.finished_at FROM messages m "
        "JOIN attempts a ON a.message_id = m.id "
        "WHERE a.channel = 'sms' AND a.status = 'delivered'",
    )
    first = min(r[0] for r in rows)
    last = max(r[1] for r in rows)
    return statuses, sorted(r[1] - r[0] for r in rows), first, last


def database_cpu() -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL server process on the machine (its backends
    do the database's share of work), by pid: backends started during the run count
    whole. Every database's processes count, so another session's load on the same
    server would too (`common.CpuAccount` counts one database's backends only)."""
    found: dict[int, float] = {}
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("postgres", "postmaster"):
            found[proc.pid] = cpu_seconds([proc])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--rate", type=float, default=2000, help="messages/s offered")
    parser.add_argument("--batch", type=int, default=500, help="messages per request")
    parser.add_argument("--smpp-window", type=int, default=64, help="CASCADE_SMPP_WINDOW")
    parser.add_argument("--receipt-window", type=int, default=64, help="the SMSC's window")
    parser.add_argument("--worker-batch", type=int, default=512, help="CASCADE_WORKER_BATCH")
    parser.add_argument("--concurrency", type=int, default=64, help="CASCADE_WORKER_CONCURRENCY")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--profile", metavar="FILE", help="profile the worker with cProfile")
    args = parser.parse_args()

    bodies = [body(n, args.batch) for n in range(0, args.messages, args.batch)]
    total = sum(len(msgspec.json.decode(b)) for b in bodies)
    sim_port, admin = free_port(), free_port()
    sms_env = {
        "CASCADE_CHANNELS": "sms",
        "CASCADE_CHANNEL_RATES": "off",
        "CASCADE_SMPP_HOST": "127.0.0.1",
        "CASCADE_SMPP_PORT": str(sim_port),
        "CASCADE_SMPP_SYSTEM_ID": "bench",
        "CASCADE_SMPP_PASSWORD": "bench",
        "CASCADE_SMPP_WINDOW": str(args.smpp_window),
        "CASCADE_WORKER_BATCH": str(args.worker_batch),
        "CASCADE_WORKER_CONCURRENCY": str(args.concurrency),
    }
    sim_args = [
        *CASCADE, "simulate", "sms", "--port", str(sim_port), "--admin-port", str(admin),
        "--account", "bench:bench", "--receipt-window", str(args.receipt_window),
    ]  # fmt: skip
    with (
        live_server(args.db, "granian", extra_env=sms_env) as server,
        tempfile.TemporaryDirectory() as logs,
        process(sim_args, server.env, Path(logs) / "smsc.log") as sim,
        contextlib.ExitStack() as stack,
    ):
        workers = [
            stack.enter_context(
                process(worker_command(args.profile), server.env, Path(logs) / f"worker{n}.log")
            )
            for n in range(args.workers)
        ]
        wait_http(f"http://127.0.0.1:{admin}/_sim/parts")
        procs = {
            "api": server.processes(),
            "workers": [psutil.Process(w.pid) for w in workers],
            "smsc simulator": [psutil.Process(sim.pid)],
        }
        database_before = database_cpu() if args.db == "postgresql" else {}
        cpu_before = {k: cpu_seconds(v) for k, v in procs.items()}
        busy_before = busy_seconds()
        posting_s, lag = asyncio.run(
            post_at_rate(server.base_url, server.headers, bodies, args.batch, args.rate)
        )
        deadline = time.monotonic() + args.timeout
        while unfinished(server.database_url) and time.monotonic() < deadline:
            time.sleep(0.25)
        cpu = {k: cpu_seconds(v) - cpu_before[k] for k, v in procs.items()}
        if args.db == "postgresql":
            cpu["postgresql server"] = sum(
                seconds - database_before.get(pid, 0.0) for pid, seconds in database_cpu().items()
            )
        busy = busy_seconds() - busy_before
        submits = admin_count(admin, "received")
        statuses, latency, first, last = outcome(server.database_url)
        disk = size_rows(server.database_url, total, "delivered, with its history")
    delivered = len(latency)
    span = (last - first) / 1000
    rows = [
        ("database", args.db),
        ("messages / per request", f"{total:,} / {args.batch}"),
        ("offered rate", f"{args.rate:,.0f} messages/s"),
        ("posting took (worst lag behind schedule)", f"{posting_s:.2f} s ({lag * 1000:.0f} ms)"),
        ("SMPP window / SMSC receipt window", f"{args.smpp_window} / {args.receipt_window}"),
        ("worker processes / concurrency", f"{args.workers} / {args.concurrency}"),
        ("final statuses", ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items()))),
        ("messages the SMSC took", f"{submits:,}"),
        ("first accept to last receipt", f"{span:.2f} s"),
        ("end-to-end throughput", f"{delivered / span:,.0f} messages/s"),
        (
            "accept to receipt p50 / p99 / max",
            f"{percentile(latency, 50):.0f} / {percentile(latency, 99):.0f} / {latency[-1]} ms",
        ),
        *((f"CPU {name}", f"{seconds:.1f} s") for name, seconds in cpu.items()),
        ("CPU whole machine, busy", f"{busy:.1f} s"),
        *disk,
    ]
    print(table(machine_rows(), "Machine"))
    print(table(rows, "SMS end to end"))
    return 0 if delivered == total == submits else 1


if __name__ == "__main__":
    sys.exit(main())
