"""The full five-step cascade: every earlier step failing fast, SMS delivering.

Starts `cascade up` (API and engine in one process, the simulators in a second, SQLite)
on loopback ports, sends N messages through the HTTP API to plain phones (last digit 6: no Telegram
chat, no Viber subscription, not a Viber user, no RCS, SMS delivered after 50 ms), waits
until every one is final, and reports messages/s and, per step, how long it took on
average (from its attempt's start to its end; a step skipped at once takes none).

  python bench/cascade_steps.py --messages 10000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CASCADE, machine_rows, process, table
from bench.database_size import size_rows
from tests.ports import free_port, free_ports

KEY = "bench-cascade-steps-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000, help="messages per request")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "cascade.db"
        port, sim = free_port(), free_ports(7)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
        env.update(
            CASCADE_DATABASE_URL=f"sqlite:///{db}",
            CASCADE_DEMO_KEY=KEY,
            CASCADE_SEND_RATE="100000",
            CASCADE_SEND_BURST="100000",
            CASCADE_CHANNEL_RATES="off",
            CASCADE_SMPP_WINDOW="64",
        )
        base = f"http://127.0.0.1:{port}"
        up_command = [*CASCADE, "up", "--port", str(port), "--sim-port", str(sim)]
        with process(up_command, env, Path(tmp) / "up.log") as up:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline or up.poll() is not None:
                    raise RuntimeError("cascade up did not start")
                time.sleep(0.2)
            time.sleep(2)  # the demo onboarding and the SMPP bind
            headers = {"X-Authorization-Key": KEY, "Content-Type": "application/json"}
            started = time.monotonic()
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                for start in range(0, args.messages, args.batch):
                    body = [
                        {
                            "id": f"c5-{n}",
                            "fromName": "Bench",
                            "toPhone": f"+38050{n % 1_000_000:06d}6",
                            "messageType": "transaction",
                            "text": f"Cascade {n}",
                        }
                        for n in range(start, min(args.messages, start + args.batch))
                    ]
                    client.post(
                        "/api/CascadeMessage/send_message/async", json=body
                    ).raise_for_status()
            accepted = time.monotonic() - started
            with contextlib.closing(sqlite3.connect(db)) as conn:
                while True:
                    left = conn.execute(
                        "SELECT count(*) FROM messages WHERE status NOT IN "
                        "('delivered','read','undeliverable','expired','cancelled')"
                    ).fetchone()[0]
                    if left == 0 or time.monotonic() - started > 1800:
                        break
                    time.sleep(1)
                total = time.monotonic() - started
                statuses = dict(
                    conn.execute("SELECT status, count(*) FROM messages GROUP BY status")
                )
                # steps passed over at once are kept on the message (messages.skipped)
                steps = conn.execute(
                    "SELECT channel, status, count(*), avg(took) FROM ("
                    " SELECT step, channel, status, finished_at - started_at AS took"
                    " FROM attempts WHERE finished_at IS NOT NULL"
                    " UNION ALL SELECT json_extract(s.value, '$[0]'),"
                    " json_extract(s.value, '$[1]'), json_extract(s.value, '$[2]'), 0"
                    " FROM messages AS m, json_each(m.skipped) AS s"
                    ") GROUP BY channel, status ORDER BY min(step)"
                ).fetchall()
            disk = size_rows(f"sqlite:///{db}", args.messages, "final, five steps of history")
    rows = [
        ("messages", f"{args.messages:,} in requests of {args.batch}"),
        ("accepted through the API in", f"{accepted:.1f} s"),
        ("all final after", f"{total:.1f} s"),
        ("throughput, first send to last final", f"{args.messages / total:,.0f} messages/s"),
        ("final statuses", ", ".join(f"{k} {v:,}" for k, v in statuses.items())),
    ]
    rows += [
        (f"step {channel}: {status}", f"{count:,} attempts, mean {mean or 0:,.0f} ms")
        for channel, status, count, mean in steps
    ]
    rows += disk
    print(table(machine_rows(), "Machine"))
    print(table(rows, "Five-step cascade (cascade up, SQLite)"))


if __name__ == "__main__":
    main()
