"""Scraping /metrics during a delivery run (issue 17): does a scrape stay under 50 ms?

Three processes on loopback, as in `sms_end_to_end.py`: `cascade api`, `cascade worker`
(the SMS channel only, rate limits off, its metrics port on) and the SMSC simulator. While
`--messages` messages are posted at `--rate` and delivered, a scraper takes, every
`--interval` seconds and in this order, the API's `/metrics`, the worker's `/metrics` and
the API's `/healthz` (the floor: the same server's cheapest answer, in the same moments),
each over a keep-alive connection of its own. A scrape reads the store (the due backlog,
the chats) at most once a second per process, so some scrapes include that query and
others do not; both are in the figures. Latency is from the request's start to the
answer's last byte.

    .venv/bin/python bench/metrics_scrape.py --messages 10000 --rate 1000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from common import (
    CASCADE,
    free_port,
    latency_summary,
    live_server,
    load_now,
    machine_rows,
    process,
    query,
    table,
    wait_for_quiet,
    wait_http,
    worker_command,
)
from sms_end_to_end import body, post_at_rate, unfinished

TARGET_MS = 50.0


async def timed_get(session: aiohttp.ClientSession, url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    async with session.get(url) as answer:
        payload = await answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{url}: HTTP {answer.status}")
    return time.perf_counter() - started, payload


async def scrape_while(
    urls: dict[str, str], interval: float, running: asyncio.Event
) -> tuple[dict[str, list[float]], int]:
    """Scrape each URL every `interval` s until `running` is cleared; latencies by name and
    the size of the API's last /metrics answer."""
    found: dict[str, list[float]] = {name: [] for name in urls}
    size = 0
    sessions = {name: aiohttp.ClientSession() for name in urls}
    try:
        while running.is_set():
            due = time.perf_counter() + interval
            for name, url in urls.items():
                seconds, payload = await timed_get(sessions[name], url)
                found[name].append(seconds)
                if name == "api /metrics":
                    size = len(payload)
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
    finally:
        for session in sessions.values():
            await session.close()
    return found, size


async def all_final(database_url: str, give_up_at: float) -> None:
    """Until no message is left unfinished (or `give_up_at`, monotonic)."""
    while time.monotonic() < give_up_at:
        if not await asyncio.to_thread(unfinished, database_url):
            return
        await asyncio.sleep(0.25)


async def run(
    base_url: str,
    headers: dict[str, str],
    bodies: list[bytes],
    batch: int,
    rate: float,
    urls: dict[str, str],
    interval: float,
    database_url: str,
    give_up_after_s: float,
) -> tuple[dict[str, list[float]], int, float]:
    running = asyncio.Event()
    running.set()
    scraper = asyncio.ensure_future(scrape_while(urls, interval, running))
    started = time.perf_counter()
    await post_at_rate(base_url, headers, bodies, batch, rate)
    await all_final(database_url, time.monotonic() + give_up_after_s)
    took = time.perf_counter() - started
    running.clear()
    found, size = await scraper
    return found, size, took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000, help="messages/s offered")
    parser.add_argument("--batch", type=int, default=100, help="messages per request")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between scrapes")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--quiet-wait", type=float, default=0, help="wait for a quiet machine")
    args = parser.parse_args()

    bodies = [body(n, args.batch) for n in range(0, args.messages, args.batch)]
    sim_port, admin, metrics_port = free_port(), free_port(), free_port()
    sms_env = {
        "CASCADE_CHANNELS": "sms",
        "CASCADE_CHANNEL_RATES": "off",
        "CASCADE_SMPP_HOST": "127.0.0.1",
        "CASCADE_SMPP_PORT": str(sim_port),
        "CASCADE_SMPP_SYSTEM_ID": "bench",
        "CASCADE_SMPP_PASSWORD": "bench",
        "CASCADE_SMPP_WINDOW": "64",
    }
    sim_args = [
        *CASCADE, "simulate", "sms", "--port", str(sim_port), "--admin-port", str(admin),
        "--account", "bench:bench",
    ]  # fmt: skip
    quiet = wait_for_quiet(args.quiet_wait) if args.quiet_wait else "not waited for"
    with (
        live_server(args.db, "granian", extra_env=sms_env) as server,
        tempfile.TemporaryDirectory() as logs,
        process(sim_args, server.env, Path(logs) / "smsc.log"),
    ):
        worker_env = {**server.env, "CASCADE_METRICS_PORT": str(metrics_port)}
        with process(worker_command(), worker_env, Path(logs) / "worker.log"):
            wait_http(f"http://127.0.0.1:{admin}/_sim/parts")
            worker_metrics = f"http://127.0.0.1:{metrics_port}/metrics"
            wait_http(worker_metrics)
            urls = {
                "api /metrics": server.base_url + "/metrics",
                "worker /metrics": worker_metrics,
                "api /healthz": server.base_url + "/healthz",
            }
            load = load_now()
            found, size, took = asyncio.run(
                run(
                    server.base_url,
                    server.headers,
                    bodies,
                    args.batch,
                    args.rate,
                    urls,
                    args.interval,
                    server.database_url,
                    args.timeout,
                )
            )
            delivered = query(
                server.database_url,
                "SELECT count(*) FROM messages WHERE status = 'delivered'",
            )[0][0]
    rows = [
        ("database", args.db),
        ("messages / offered rate", f"{args.messages:,} at {args.rate:,.0f}/s"),
        ("delivered", f"{delivered:,} in {took:.1f} s"),
        ("machine before the run", quiet),
        ("load average at the run's start", load),
        ("scrape interval / API /metrics size", f"{args.interval} s / {size:,} bytes"),
    ]
    for name, latencies in found.items():
        s = latency_summary(latencies)
        rows.append(
            (
                f"{name}: n, p50 / p99 / max",
                f"{len(latencies)}, {s['p50']:.2f} / {s['p99']:.2f} / {s['max']:.2f} ms",
            )
        )
    worst = max(max(found["api /metrics"]), max(found["worker /metrics"])) * 1000
    rows.append(
        (f"every /metrics under {TARGET_MS:.0f} ms", "met" if worst < TARGET_MS else "NOT met")
    )
    print(table(machine_rows(), "Machine"))
    print(table(rows, "Scraping /metrics during a run"))
    return 0 if delivered == args.messages else 1


if __name__ == "__main__":
    sys.exit(main())
