"""Delivery engine benchmarks (issue: engine with Telegram and Viber bots).

Modes:
  throughput  end-to-end dispatch through the Telegram simulator (its rate limits off):
              N due messages are queued, one `cascade worker` delivers them all;
              messages/s from the worker's first to its last delivery.
  scheduled   N messages scheduled at a constant rate (default 1,000/s) a few seconds
              ahead; lateness = attempt start - scheduled time, p50/p99/max, and how
              many left early (must be 0).
  memory      1,000,000 messages queued; the worker runs for a fixed time; its peak RSS.

Everything runs on 127.0.0.1: the simulator and the worker are separate processes; the
queue is filled in-process through the store (intake is measured by intake_*.py).

  python bench/dispatch.py throughput --db sqlite --messages 50000
  python bench/dispatch.py scheduled --db postgresql --messages 20000 --rate 1000
  python bench/dispatch.py memory --db sqlite --messages 1000000 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    CASCADE,
    SMS_PHONES,
    free_port,
    machine_rows,
    process,
    scratch_database,
    table,
    wait_http,
    worker_command,
)

from cascade.api.wire import MessageIn
from cascade.clock import SystemClock
from cascade.domain.message import Context, Route, validate
from cascade.security import hash_secret
from cascade.simulators.telegram import chat_id_for
from cascade.store import NewMessage
from cascade.store.migrate import upgrade
from cascade.store.sql import SqlStore

BOT_TOKEN = "7000000009:BENCH-telegram-bot-token-for-the-sim"  # noqa: S105
# valid UA mobile numbers ending in 1: Telegram users in the simulator's default script
PHONES = [f"+38050{n:06d}1" for n in range(1000)]


async def prepare(
    url: str, messages: int, schedule: tuple[float, float] | None, phones: list[str] = PHONES
) -> str:
    """Account, bot, 1,000 onboarded phones, and `messages` queued; returns the account."""
    store = SqlStore(url, SystemClock(), sqlite_synchronous="NORMAL", pool_size=2)
    try:
        account = await store.create_account("bench", "Bench")
        bot = await store.add_bot(account.id, "telegram", BOT_TOKEN, hash_secret(BOT_TOKEN))
        await store.upsert_contacts(
            [("telegram", bot, p, str(chat_id_for(p)), True) for p in PHONES]
        )
        clock = SystemClock()
        batch = 5000
        for start in range(0, messages, batch):
            now = clock.now_ms()
            ctx = Context("array", Route.STANDARD, now, "Bench", {}, "http://x", lambda: "c")
            items = []
            for n in range(start, min(messages, start + batch)):
                at = None
                if schedule is not None:
                    first, rate = schedule
                    at = datetime.fromtimestamp(first + n / rate, tz=UTC).isoformat()
                raw = MessageIn(
                    id=f"m-{n}",
                    from_name="Bench",
                    to_phone=phones[n % len(phones)],
                    message_type="transaction",
                    text=f"Dispatch {n}",
                    scheduled_sent=at,
                )
                items.append(NewMessage(str(uuid.uuid4()), validate(raw, uuid.uuid4().bytes, ctx)))
            await store.accept(account.id, items)
        return account.id
    finally:
        await store.close()


async def progress(url: str) -> tuple[int, int | None, int | None]:
    """(tasks left, first attempt start, last attempt finish) in epoch ms."""
    store = SqlStore(url, SystemClock(), pool_size=1)
    try:
        import sqlalchemy as sa

        from cascade.store import schema as t

        async with store._reader.connect() as conn:
            left = (await conn.execute(sa.select(sa.func.count()).select_from(t.tasks))).scalar()
            a = t.attempts.c
            first, last = (
                await conn.execute(sa.select(sa.func.min(a.started_at), sa.func.max(a.finished_at)))
            ).one()
        return int(left or 0), first, last
    finally:
        await store.close()


async def lateness(url: str) -> list[int]:
    store = SqlStore(url, SystemClock(), pool_size=1)
    try:
        import sqlalchemy as sa

        from cascade.store import schema as t

        m, a = t.messages.c, t.attempts.c
        async with store._reader.connect() as conn:
            rows = await conn.execute(
                sa.select(a.started_at - m.scheduled_at)
                .select_from(t.attempts.join(t.messages, m.id == a.message_id))
                .where(a.channel == "telegram")
            )
            return sorted(int(r[0]) for r in rows)
    finally:
        await store.close()


def pct(values: list[int], q: float) -> float:
    return float(values[min(len(values) - 1, int(q * len(values)))]) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["throughput", "scheduled", "memory"])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="scheduled: due per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="memory: how long to run")
    parser.add_argument("--batch", type=int, default=256, help="CASCADE_WORKER_BATCH")
    parser.add_argument("--concurrency", type=int, default=64, help="CASCADE_WORKER_CONCURRENCY")
    parser.add_argument(
        "--channel",
        choices=["telegram", "sms"],
        default="telegram",
        help="sms: through the SMPP simulator, done when every receipt is in",
    )
    parser.add_argument("--smpp-window", type=int, default=64, help="CASCADE_SMPP_WINDOW")
    parser.add_argument(
        "--receipt-window", type=int, default=10, help="the SMSC's deliver_sm window"
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="profile the worker with cProfile into FILE"
    )
    args = parser.parse_args()

    with scratch_database(args.db) as url, tempfile.TemporaryDirectory() as tmp:
        upgrade(url)
        schedule = None
        if args.mode == "scheduled":
            schedule = (time.time() + 10 + args.messages / 20_000, args.rate)
        t0 = time.monotonic()
        phones = SMS_PHONES if args.channel == "sms" else PHONES
        asyncio.run(prepare(url, args.messages, schedule, phones))
        queued_s = time.monotonic() - t0
        sim_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
        env.update(
            CASCADE_DATABASE_URL=url,
            CASCADE_CHANNELS="telegram",
            CASCADE_CHANNEL_RATES="off",
            CASCADE_TELEGRAM_API_URL=f"http://127.0.0.1:{sim_port}",
            CASCADE_WORKER_BATCH=str(args.batch),
            CASCADE_WORKER_CONCURRENCY=str(args.concurrency),
            CASCADE_LOG_LEVEL="warning",
        )
        if args.channel == "sms":
            admin = free_port()
            env.update(
                CASCADE_CHANNELS="sms",
                CASCADE_SMPP_HOST="127.0.0.1",
                CASCADE_SMPP_PORT=str(sim_port),
                CASCADE_SMPP_SYSTEM_ID="bench",
                CASCADE_SMPP_PASSWORD="bench",  # noqa: S106 - the simulator's account
                CASCADE_SMPP_WINDOW=str(args.smpp_window),
            )
            sim_args = [
                *CASCADE,
                "simulate",
                "sms",
                "--port",
                str(sim_port),
                "--admin-port",
                str(admin),
                "--account",
                "bench:bench",
                "--receipt-window",
                str(args.receipt_window),
            ]
            ready = f"http://127.0.0.1:{admin}/_sim/received"
        else:
            sim_args = [
                *CASCADE,
                "simulate",
                "telegram",
                "--port",
                str(sim_port),
                "--no-rate-limits",
            ]
            ready = f"http://127.0.0.1:{sim_port}/_sim/received?phone=none"
        with process(sim_args, env, Path(tmp) / "sim.log"):
            wait_http(ready)
            with process(worker_command(args.profile), env, Path(tmp) / "worker.log") as worker:
                ps = psutil.Process(worker.pid)
                peak_rss = 0
                started = time.monotonic()
                limit = args.seconds if args.mode == "memory" else 900
                while time.monotonic() - started < limit:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        peak_rss = max(peak_rss, ps.memory_info().rss)
                    left, _, _ = asyncio.run(progress(url))
                    if left == 0:
                        break
                    time.sleep(0.5)
                cpu = sum(ps.cpu_times()[:2])
                left, first, last = asyncio.run(progress(url))
        done = args.messages - left
        rows = [
            ("database / channel", f"{args.db} / {args.channel}"),
            ("messages queued", f"{args.messages:,} (in {queued_s:.1f} s)"),
            ("worker batch / sends in flight", f"{args.batch} / {args.concurrency}"),
            ("messages delivered", f"{done:,}"),
        ]
        if first is not None and last is not None and last > first:
            span = (last - first) / 1000
            rows.append(("first to last delivery", f"{span:.2f} s"))
            rows.append(("throughput", f"{done / span:,.0f} messages/s"))
        rows.append(("worker peak RSS", f"{peak_rss / 2**20:.1f} MiB"))
        rows.append(("worker CPU", f"{cpu:.1f} s"))
        if args.mode == "scheduled":
            late = asyncio.run(lateness(url))
            early = sum(1 for v in late if v < 0)
            rows.append(("scheduled rate", f"{args.rate:,.0f} due messages/s"))
            rows.append(
                (
                    "lateness p50 / p99 / max",
                    f"{pct(late, 0.5):.0f} / {pct(late, 0.99):.0f} / {late[-1] if late else 0} ms",
                )
            )
            rows.append(("left before their time", str(early)))
        print(table(machine_rows(), "Machine"))
        print(table(rows, f"Dispatch ({args.mode})"))


if __name__ == "__main__":
    main()
