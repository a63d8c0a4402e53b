"""(b) Single-message sends at a constant rate, open loop.

Request i is due at start + i / rate, whatever happened to the requests before it: an
asyncio scheduler fires every request whose time has come and never waits for answers.
Latency is measured from the *scheduled* time to the end of the answer, so a stalled
server (or a stalled load generator) shows up in the figures instead of silently
lowering the offered load (no coordinated omission). The first seconds are a warm-up and
are left out of the figures.

    .venv/bin/python bench/intake_latency.py --db sqlite --server granian
    .venv/bin/python bench/intake_latency.py --db postgresql --rate 500 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time

import aiohttp
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

TARGET_P50_MS = 5.0
TARGET_P99_MS = 20.0


class Outcome:
    def __init__(self, total: int) -> None:
        self.latency = [float("nan")] * total  # from the scheduled time, seconds
        self.service = [float("nan")] * total  # from the moment it was fired, seconds
        self.lag = [0.0] * total  # how late the scheduler fired it, seconds
        self.errors: dict[str, int] = {}

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def drive(
    server: Server, rate: float, total: int, connections: int, request_timeout: float
) -> Outcome:
    url = server.base_url + SEND_PATH
    bodies = [batch_body("one", i, 1) for i in range(total)]
    outcome = Outcome(total)
    clock = time.perf_counter
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(
        connector=connector, headers=server.headers, timeout=timeout
    ) as session:

        async def one(i: int, due: float) -> None:
            fired = clock()
            outcome.lag[i] = fired - due
            try:
                async with session.post(url, data=bodies[i]) as answer:
                    await answer.read()
                    if answer.status != 200:
                        outcome.error(f"HTTP {answer.status}")
                        return
            except (aiohttp.ClientError, TimeoutError) as err:
                outcome.error(type(err).__name__)
                return
            done = clock()
            outcome.latency[i] = done - due
            outcome.service[i] = done - fired

        # Open the pool's first connections before the clock starts.
        async with session.get(server.base_url + "/healthz") as answer:
            await answer.read()

        tasks: set[asyncio.Task[None]] = set()
        interval = 1.0 / rate
        start = clock() + 0.05
        i = 0
        while i < total:
            now = clock()
            while i < total and start + i * interval <= now:
                task = asyncio.create_task(one(i, start + i * interval))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            if i < total:
                delay = start + i * interval - clock()
                await asyncio.sleep(max(0.0, delay))
        if tasks:
            await asyncio.wait(tasks, timeout=request_timeout + 1)
    return outcome


def run(args: argparse.Namespace) -> int:
    install_uvloop()
    total = round(args.rate * (args.warmup + args.duration))
    skip = round(args.rate * args.warmup)
    print(table(machine_rows(), "Machine"))
    with server_from_args(args) as server:
        machine = Conditions.settle(args.quiet_wait)
        with CpuAccount(server) as cpu:
            outcome = asyncio.run(
                asyncio.wait_for(
                    drive(server, args.rate, total, args.connections, args.request_timeout),
                    args.duration + args.warmup + args.request_timeout + 30,
                )
            )
        machine.measured()
        stored = count_messages(server.database_url) - args.prefill

    # A failed request (timeout, error) counts as infinitely slow: leaving it out would
    # hide exactly the requests that were too slow.
    measured = [x if x == x else math.inf for x in outcome.latency[skip:]]
    service = [x if x == x else math.inf for x in outcome.service[skip:]]
    succeeded = sum(1 for x in measured if x != math.inf)
    lag = sorted(outcome.lag[skip:])
    failed = sum(outcome.errors.values())
    lat = latency_summary(measured)
    svc = latency_summary(service)
    sched = latency_summary(lag)
    ok = lat["p50"] <= TARGET_P50_MS and lat["p99"] <= TARGET_P99_MS and not failed

    def fmt(d: dict[str, float]) -> str:
        return (
            f"{d['p50']:.2f} / {d['p90']:.2f} / {d['p99']:.2f} / {d['p99.9']:.2f} / {d['max']:.2f}"
        )

    rows = [
        ("database / server / workers", f"{args.db} / {args.server} / {args.workers}"),
        ("messages in the database before", fresh_or_prefilled(args.prefill)),
        ("sqlite synchronous", args.sqlite_synchronous if args.db == "sqlite" else "-"),
        ("offered rate", f"{args.rate:g} requests/s (1 message each), open loop"),
        ("warm-up (excluded) + measured", f"{args.warmup:g} s + {args.duration:g} s"),
        ("requests measured / succeeded", f"{len(measured)} / {succeeded}"),
        ("answered per second (measured part)", f"{succeeded / args.duration:,.0f}"),
        ("failed requests", f"{failed} {outcome.errors or ''}".strip()),
        ("rows committed", f"{stored} of {total}"),
        ("latency, ms (failed = inf)", "p50 / p90 / p99 / p99.9 / max"),
        ("  end to end (the figure)", fmt(lat)),
        ("  service time (from firing)", fmt(svc)),
        ("  scheduler lag", fmt(sched)),
        ("target", f"p50 <= {TARGET_P50_MS:g} ms, p99 <= {TARGET_P99_MS:g} ms "
                   f"({'MET' if ok else 'MISSED'})"),
        *cpu.rows(),
        *machine.rows(),
    ]  # fmt: skip
    print(table(rows, "Single-message sends, open loop"))
    return 0 if not failed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="leading seconds not counted")
    parser.add_argument("--connections", type=int, default=256, help="client pool size")
    parser.add_argument("--request-timeout", type=float, default=10.0, help="per request, s")
    add_quiet_wait_argument(parser)
    add_database_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
