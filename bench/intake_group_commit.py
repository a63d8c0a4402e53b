"""A/B: does the intake's own group commit earn its place over the store's other batching?

`SqlStore.accept` queues requests and commits those that arrive while a commit is under
way together (`_drain_accepts`, one look-up and one multi-row insert for the group).
`--mode direct` bypasses that queue: each request goes through the same code
(`_commit_group`) alone, at once, leaving only SQLite's writer thread to group work
(each request in a savepoint of its own) and, on PostgreSQL, the connection pool to run
requests side by side. The store is driven in process (no HTTP), so the figure is the
store's alone. Alternate the modes, same machine, a few runs each:

    .venv/bin/python bench/intake_group_commit.py --db sqlite --mode group
    .venv/bin/python bench/intake_group_commit.py --db sqlite --mode direct
    .venv/bin/python bench/intake_group_commit.py --db postgresql --mode group \
        --batch 1000 --requests 40 --concurrency 4
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import time
import uuid

import uvloop
from common import scratch_database

from cascade.clock import SystemClock
from cascade.domain.message import Draft, MessageType, Route
from cascade.store.base import NewMessage
from cascade.store.migrate import upgrade
from cascade.store.sql import SqlStore
from cascade.store.sql.intake import _Waiting


def message(tag: str, now: int) -> NewMessage:
    draft = Draft(
        tracking_id=tag,
        fingerprint=hashlib.blake2b(tag.encode(), digest_size=16).digest(),
        route=Route.STANDARD,
        message_type=MessageType.TRANSACTION,
        from_name="Shop",
        phone="+380501234567",
        text="Hello " + tag,
        survey_options=(),
        fallback=None,
        ttl=3600,
        created_at_ms=now,
        scheduled_at_ms=None,
        due_at_ms=now + 3_600_000,  # due later: no NOTIFY, nothing for a worker to do
        expires_at_ms=now + 7_200_000,
        short_links=(),
    )
    return NewMessage(str(uuid.uuid4()), draft)


async def direct_accept(self: SqlStore, account_id: str, messages: list[NewMessage]) -> list[str]:
    """`accept` without the queue: the request's own group, committed at once."""
    if not messages:
        return []
    waiting = _Waiting(account_id, messages, asyncio.get_running_loop().create_future())
    await self._commit_group([waiting])
    return await waiting.done


async def drive(args: argparse.Namespace, url: str) -> float:
    if args.mode == "direct":
        SqlStore.accept = direct_accept  # type: ignore[method-assign,assignment]
    store = SqlStore(url, SystemClock(), sqlite_synchronous=args.sqlite_synchronous)
    account = await store.create_account("bench", "Bench")
    now = int(time.time() * 1000)
    warm = [[message(f"w{i}", now)] for i in range(200)]
    bodies = [[message(f"r{i}-{j}", now) for j in range(args.batch)] for i in range(args.requests)]

    async def sender(queue: list[list[NewMessage]]) -> None:
        while queue:
            await store.accept(account.id, queue.pop())

    await asyncio.gather(*(sender(warm) for _ in range(args.concurrency)))
    started = time.perf_counter()
    await asyncio.gather(*(sender(bodies) for _ in range(args.concurrency)))
    wall = time.perf_counter() - started
    await store.close()
    return args.requests * args.batch / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--mode", choices=["group", "direct"], default="group")
    parser.add_argument("--batch", type=int, default=1, help="messages per request")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    parser.add_argument("--sqlite-synchronous", default="FULL")
    args = parser.parse_args()
    before = os.getloadavg()[0]
    with scratch_database(args.db) as url:
        upgrade(url)
        rate = uvloop.run(drive(args, url))
    print(
        f"{args.db:10} {args.mode:6} batch={args.batch:<4} requests={args.requests:<5} "
        f"concurrency={args.concurrency:<3} {rate:10,.0f} msg/s  "
        f"load1 {before:.2f} -> {os.getloadavg()[0]:.2f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
