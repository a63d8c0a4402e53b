"""(c) Resident memory of the API server through 1,000,000 accepted messages.

A few concurrent senders push batches (1,000 messages per request unless --batch says
otherwise) until --messages have been accepted, while a background thread samples the
RSS of the server's processes with psutil every --interval seconds. Bodies are built on
the fly, so the load generator's own memory stays flat. The table shows the RSS at each
tenth of the run and its peak; granian runs the app in a worker process under a small
supervisor, so both the largest single process and the sum over the tree are given.

    .venv/bin/python bench/intake_memory.py --db sqlite --server granian
    .venv/bin/python bench/intake_memory.py --db postgresql --messages 1000000
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
    RssSampler,
    Server,
    add_database_arguments,
    add_quiet_wait_argument,
    add_server_arguments,
    batch_body,
    count_messages,
    install_uvloop,
    machine_rows,
    mib,
    server_from_args,
    table,
)
from database_size import size_rows

TARGET_BYTES = 150 * 2**20


async def drive(
    server: Server,
    total: int,
    batch: int,
    concurrency: int,
    sampler: RssSampler,
    marks: list[tuple[int, float, int, int, int]],
) -> int:
    """Send `total` messages; at each tenth record (messages, s, rss, largest, pss)."""
    url = server.base_url + SEND_PATH
    decode = msgspec.json.decode
    requests = total // batch
    next_request = 0
    accepted = 0
    step = max(1, total // 10)
    next_mark = step
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, headers=server.headers, timeout=aiohttp.ClientTimeout(total=300)
    ) as session:

        async def sender() -> None:
            nonlocal next_request, accepted, next_mark
            while next_request < requests:
                n = next_request
                next_request += 1
                body = batch_body("mem", n * batch, batch)
                async with session.post(url, data=body) as answer:
                    payload = await answer.read()
                    if answer.status != 200:
                        raise RuntimeError(f"HTTP {answer.status}: {payload[:300]!r}")
                accepted += len(decode(payload))
                if accepted >= next_mark:
                    rss = sampler.sample()
                    elapsed = time.perf_counter() - started
                    marks.append((accepted, elapsed, rss, sampler.largest_now, sampler.pss_now))
                    next_mark += step

        await asyncio.gather(*(sender() for _ in range(concurrency)))
    return accepted


def run(args: argparse.Namespace) -> int:
    install_uvloop()
    print(table(machine_rows(), "Machine"))
    with server_from_args(args) as server:
        machine = Conditions.settle(args.quiet_wait)
        with RssSampler(server, args.interval) as sampler, CpuAccount(server) as cpu:
            time.sleep(0.5)
            idle_total = sampler.sample()
            idle_largest, idle_pss = sampler.largest_now, sampler.pss_now
            marks: list[tuple[int, float, int, int, int]] = []
            started = time.perf_counter()
            accepted = asyncio.run(
                asyncio.wait_for(
                    drive(server, args.messages, args.batch, args.concurrency, sampler, marks),
                    args.timeout,
                )
            )
            wall = time.perf_counter() - started
            time.sleep(1.0)
            sampler.sample()
            after_largest, after_pss = sampler.largest_now, sampler.pss_now
        machine.measured()
        nprocs = len(server.processes())
        stored = count_messages(server.database_url) - args.prefill
        disk = size_rows(server.database_url, stored + args.prefill, "accepted, queued")

    progress = [
        (f"{n:>9,} messages at {t:6.1f} s", f"{mib(big)} / {mib(pss)} / {mib(rss)}")
        for n, t, rss, big, pss in marks
    ]
    print(
        table(
            [("progress", "largest RSS / tree PSS / tree RSS"), *progress],
            "Memory of the server's processes as the run goes",
        )
    )
    verdict = "MET" if sampler.peak_single < TARGET_BYTES else "MISSED"
    verdict_tree = "MET" if sampler.peak_pss < TARGET_BYTES else "MISSED"
    rows = [
        ("database / server / workers", f"{args.db} / {args.server} / {args.workers}"),
        (
            "messages in the database before",
            f"{args.prefill:,} (+ ANALYZE)" if args.prefill else "0 (fresh)",
        ),
        ("messages per request / senders", f"{args.batch} / {args.concurrency}"),
        ("messages accepted", f"{accepted:,}"),
        ("rows committed", f"{stored:,}"),
        ("wall time / throughput", f"{wall:.1f} s / {accepted / wall:,.0f} messages/s"),
        ("RSS sample interval", f"{args.interval:g} s ({len(sampler.samples)} samples)"),
        ("processes in the server tree", f"{nprocs}"),
        (
            "idle before the run: largest RSS / tree PSS / tree RSS",
            f"{mib(idle_largest)} / {mib(idle_pss)} / {mib(idle_total)}",
        ),
        ("PEAK RSS of the largest (API) process", mib(sampler.peak_single)),
        ("peak PSS, sum over the server tree", mib(sampler.peak_pss)),
        ("peak RSS, sum over the tree (double counts)", mib(sampler.peak_total)),
        ("1 s after the run: largest RSS / tree PSS", f"{mib(after_largest)} / {mib(after_pss)}"),
        ("target < 150 MiB: API process / tree PSS", f"{verdict} / {verdict_tree}"),
        *cpu.rows(per=accepted),
        *machine.rows(),
        *disk,
    ]
    print(table(rows, "Server memory through the run"))
    return 0 if stored >= accepted else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages to send")
    parser.add_argument("--batch", type=int, default=1000, help="messages per request")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent senders")
    parser.add_argument("--interval", type=float, default=0.2, help="RSS sample interval, s")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many s")
    add_quiet_wait_argument(parser)
    add_database_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
