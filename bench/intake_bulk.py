"""(a) Bulk intake: requests of N messages each, committed before the answer.

A few concurrent senders share one aiohttp connection pool and each sends its next
request as soon as the previous one is answered (closed loop: this measures capacity).
Bodies are encoded before the clock starts so the load generator spends its CPU on HTTP,
not on building JSON. After the run the committed rows are counted in the database.

    .venv/bin/python bench/intake_bulk.py --db sqlite --server granian
    .venv/bin/python bench/intake_bulk.py --db postgresql --server uvicorn --messages 300000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import aiohttp
import msgspec
from common import (
    SEND_PATH,
    Conditions,
    CpuAccount,
    Server,
    add_database_arguments,
    add_quiet_wait_argument,
    add_server_arguments,
    batch_body,
    count_messages,
    fresh_or_prefilled,
    install_uvloop,
    latency_summary,
    machine_rows,
    server_from_args,
    table,
)

TARGET_PER_S = 20_000


async def drive(
    server: Server, bodies: list[bytes], batch: int, concurrency: int
) -> tuple[float, list[float], int]:
    """Send every body; return (wall seconds, per-request latencies, messages accepted)."""
    accepted = 0
    latencies: list[float] = []
    queue = iter(bodies)
    url = server.base_url + SEND_PATH
    decode = msgspec.json.decode
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, headers=server.headers, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:

        async def sender() -> None:
            nonlocal accepted
            for body in queue:
                started = time.perf_counter()
                async with session.post(url, data=body) as answer:
                    payload = await answer.read()
                    if answer.status != 200:
                        raise RuntimeError(f"HTTP {answer.status}: {payload[:300]!r}")
                latencies.append(time.perf_counter() - started)
                got = len(decode(payload))
                if got != batch:
                    raise RuntimeError(f"{got} ids answered for {batch} messages")
                accepted += got

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return wall, latencies, accepted


def run(args: argparse.Namespace) -> int:
    install_uvloop()
    requests = max(1, args.messages // args.batch)
    print(table(machine_rows(), "Machine"))
    print(f"building {requests + args.warmup} bodies of {args.batch} messages ...", flush=True)
    warm = [batch_body("warm", i * args.batch, args.batch) for i in range(args.warmup)]
    bodies = [batch_body("bulk", i * args.batch, args.batch) for i in range(requests)]
    with server_from_args(args) as server:
        if warm:
            asyncio.run(drive(server, warm, args.batch, min(args.concurrency, len(warm))))
        machine = Conditions.settle(args.quiet_wait)
        with CpuAccount(server) as cpu:
            wall, latencies, accepted = asyncio.run(
                asyncio.wait_for(drive(server, bodies, args.batch, args.concurrency), args.timeout)
            )
        machine.measured()
        stored = count_messages(server.database_url) - args.prefill
    rate = accepted / wall
    lat = latency_summary(latencies)
    verdict = "MET" if rate >= TARGET_PER_S else "MISSED"
    expected = accepted + args.warmup * args.batch
    rows = [
        ("database / server / workers", f"{args.db} / {args.server} / {args.workers}"),
        ("messages in the database before", fresh_or_prefilled(args.prefill)),
        ("sqlite synchronous", args.sqlite_synchronous if args.db == "sqlite" else "-"),
        ("messages per request", f"{args.batch}"),
        ("concurrent senders", f"{args.concurrency}"),
        ("requests (timed)", f"{len(latencies)}"),
        ("messages accepted (timed)", f"{accepted}"),
        ("rows committed (incl. warm-up)", f"{stored} of {expected}"),
        ("wall time", f"{wall:.2f} s"),
        ("throughput", f"{rate:,.0f} messages/s"),
        ("target", f">= {TARGET_PER_S:,} messages/s ({verdict})"),
        ("request latency p50 / p90 / p99 / max",
         f"{lat['p50']:.1f} / {lat['p90']:.1f} / {lat['p99']:.1f} / {lat['max']:.1f} ms"),
        *cpu.rows(per=accepted),
        *machine.rows(),
    ]  # fmt: skip
    print(table(rows, "Bulk intake"))
    if stored != expected:
        print(f"ERROR: {stored} rows committed, {expected} expected", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--messages", type=int, default=300_000, help="messages in the timed run")
    parser.add_argument("--batch", type=int, default=1000, help="messages per request")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent senders")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up requests (not timed)")
    add_database_arguments(parser)
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many s")
    add_quiet_wait_argument(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
