"""The SMSC simulator's CPU per message: submits at a rate, a DELIVRD receipt for each.

The simulator (`python -m cascade.simulators.smsc`) runs as a process of its own on
loopback ports. A minimal asyncio SMPP client built from `cascade.channels.sms.pdu` binds
one transceiver to it, offers `--messages` submit_sm at `--rate` per second (open loop:
message i is due at start + i / rate; at most `--window` await their submit_sm_resp),
answers every deliver_sm with ESME_ROK and waits until each message has its receipt. The
recipients are plain sandbox phones (last digit 6), whose receipt says DELIVRD 50 ms
after the submit. The figure is the simulator process's CPU time (user + system) from
the answered bind (the bind itself not counted) to the answer of the unbind that follows
the last receipt, per message.

    .venv/bin/python bench/smsc_cpu.py --messages 20000 --rate 5000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import psutil
from common import (
    SMS_PHONES,
    Conditions,
    add_quiet_wait_argument,
    admin_count,
    cpu_seconds,
    free_port,
    install_uvloop,
    machine_rows,
    own_cpu_seconds,
    process,
    table,
    wait_http,
)

from cascade.channels.sms import encoding
from cascade.channels.sms.pdu import (
    BIND_TRANSCEIVER,
    DELIVER_SM,
    ENQUIRE_LINK,
    ESME_ROK,
    HEADER,
    RESPONSE,
    SUBMIT_SM,
    TLV_RECEIPTED_MESSAGE_ID,
    UNBIND,
    Bind,
    PduSplitter,
    Submit,
    body_of,
    decode_deliver,
    encode,
    message_id_resp,
    read_c_string,
    status_name,
)
from cascade.simulators.smsc import DEFAULT_PASSWORD, DEFAULT_SYSTEM_ID

SMSC = [sys.executable, "-m", "cascade.simulators.smsc"]
TICK_S = 0.001  # the offering loop wakes at most this often (every submit due then goes)


def submits(count: int) -> list[bytes]:
    """submit_sm PDUs with sequences 2.. (the bind is 1), to plain phones, receipt asked."""
    return [
        Submit(
            source_addr="Bench",
            source_ton=5,
            source_npi=0,
            destination_addr=SMS_PHONES[n % len(SMS_PHONES)][1:],
            dest_ton=1,
            dest_npi=1,
            short_message=encoding.encode_gsm7(f"Your code is {n % 1_000_000:06d}."),
            registered_delivery=1,
        ).encode(n + 2)
        for n in range(count)
    ]


class Esme(asyncio.Protocol):
    """One transceiver: counts submit_sm_resp, answers every deliver_sm at once."""

    def __init__(self, window: int, expected: int) -> None:
        self.transport: asyncio.Transport | None = None
        self.splitter = PduSplitter()
        self.free = window  # submits that may still go before a submit_sm_resp
        self.expected = expected
        self.answers: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self.accepted: set[str] = set()
        self.refused: Counter[str] = Counter()
        self.receipts: Counter[str] = Counter()  # receipted_message_id -> deliver_sm seen
        self.deliver_sm = 0
        self.slot: asyncio.Future[None] | None = None
        self.all_receipts = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        for future in self.answers.values():
            if not future.done():
                future.set_exception(ConnectionError("connection lost"))
        if self.slot is not None and not self.slot.done():
            self.slot.set_exception(ConnectionError("connection lost"))

    def expect(self, sequence: int) -> asyncio.Future[tuple[int, bytes]]:
        future: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self.answers[sequence] = future
        return future

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    async def window_slot(self) -> None:
        self.slot = asyncio.get_running_loop().create_future()
        await self.slot

    def data_received(self, data: bytes) -> None:
        out: list[bytes] = []
        for pdu in self.splitter.feed(data):
            _, command_id, status, sequence = HEADER.unpack_from(pdu)
            if command_id == SUBMIT_SM | RESPONSE:
                self.free += 1
                if status == ESME_ROK:
                    self.accepted.add(read_c_string(body_of(pdu))[0])
                else:
                    self.refused[status_name(status)] += 1
            elif command_id == DELIVER_SM:
                self.deliver_sm += 1
                tlvs = decode_deliver(pdu).tlvs
                receipted = tlvs.get(TLV_RECEIPTED_MESSAGE_ID, b"").rstrip(b"\x00")
                self.receipts[receipted.decode("ascii")] += 1
                out.append(message_id_resp(DELIVER_SM, sequence, ESME_ROK))
            elif command_id == ENQUIRE_LINK:
                out.append(encode(ENQUIRE_LINK | RESPONSE, sequence))
            elif command_id == UNBIND:
                out.append(encode(UNBIND | RESPONSE, sequence))
            else:
                future = self.answers.pop(sequence, None)
                if future is not None and not future.done():
                    future.set_result((status, pdu))
        if out:
            self.write(b"".join(out))
        if self.slot is not None and self.free > 0 and not self.slot.done():
            self.slot.set_result(None)
        if len(self.receipts) >= self.expected:
            self.all_receipts.set()


async def offer(esme: Esme, pdus: list[bytes], rate: float) -> tuple[float, float]:
    """Write each submit at its time (or as soon as the window lets it); returns (seconds
    offering, worst lag behind the schedule in s)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = 0
    lag = 0.0
    while sent < len(pdus):
        now = loop.time()
        due = min(len(pdus), int((now - started) * rate) + 1)
        if sent >= due:
            # libuv's timers count whole milliseconds: a shorter sleep would spin
            await asyncio.sleep(max(started + sent / rate - now, TICK_S))
            continue
        if esme.free <= 0:
            await esme.window_slot()
            continue
        take = min(due - sent, esme.free)
        lag = max(lag, now - (started + sent / rate))
        esme.free -= take
        esme.write(b"".join(pdus[sent : sent + take]))
        sent += take
    return loop.time() - started, lag


@dataclass
class Run:
    offering_s: float
    lag_s: float
    seconds: float  # first submit to last receipt
    sim_cpu: float
    client_cpu: float
    accepted: int
    refused: dict[str, int]
    receipts: int  # distinct receipted message ids
    deliver_sm: int
    unexpected: int  # receipts naming an id never accepted


async def drive(args: argparse.Namespace, port: int, sim: psutil.Process) -> Run:
    pdus = submits(args.messages)
    loop = asyncio.get_running_loop()
    _, esme = await loop.create_connection(
        lambda: Esme(args.window, args.messages), "127.0.0.1", port
    )
    bound = esme.expect(1)
    esme.write(Bind(args.system_id, args.password).encode(1, BIND_TRANSCEIVER))
    status, _ = await asyncio.wait_for(bound, 10)
    if status != ESME_ROK:
        raise RuntimeError(f"bind refused: {status_name(status)}")

    cpu_before, client_before = cpu_seconds([sim]), own_cpu_seconds()
    started = time.perf_counter()
    offering_s, lag = await offer(esme, pdus, args.rate)
    try:
        await asyncio.wait_for(esme.all_receipts.wait(), args.timeout)
    except TimeoutError:
        print(f"timed out: {len(esme.receipts):,} of {args.messages:,} receipts", file=sys.stderr)
    last_receipt = time.perf_counter()
    unbound = esme.expect(len(pdus) + 2)
    esme.write(encode(UNBIND, len(pdus) + 2))
    await asyncio.wait_for(unbound, 10)  # every deliver_sm_resp before it was read
    sim_cpu, client_cpu = cpu_seconds([sim]) - cpu_before, own_cpu_seconds() - client_before
    assert esme.transport is not None
    esme.transport.close()
    return Run(
        offering_s=offering_s,
        lag_s=lag,
        seconds=last_receipt - started,
        sim_cpu=sim_cpu,
        client_cpu=client_cpu,
        accepted=len(esme.accepted),
        refused=dict(esme.refused),
        receipts=len(esme.receipts),
        deliver_sm=esme.deliver_sm,
        unexpected=len(set(esme.receipts) - esme.accepted),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=5000, help="submits/s offered")
    parser.add_argument("--window", type=int, default=64, help="submits awaiting their resp")
    parser.add_argument("--timeout", type=float, default=120, help="s to wait for receipts")
    parser.add_argument("--system-id", default=DEFAULT_SYSTEM_ID)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    add_quiet_wait_argument(parser)
    parser.set_defaults(quiet_wait=30)
    args = parser.parse_args()

    install_uvloop()
    port, admin = free_port(), free_port()
    sim_args = [
        *SMSC, "--port", str(port), "--admin-port", str(admin),
        "--system-id", args.system_id, "--password", args.password,
    ]  # fmt: skip
    with (
        tempfile.TemporaryDirectory() as logs,
        process(sim_args, dict(os.environ), Path(logs) / "smsc.log") as sim,
    ):
        wait_http(f"http://127.0.0.1:{admin}/_sim/parts")
        machine = Conditions.settle(args.quiet_wait)
        got = asyncio.run(drive(args, port, psutil.Process(sim.pid)))
        machine.measured()
        taken, acknowledged = admin_count(admin, "parts"), admin_count(admin, "receipts")
    messages = args.messages
    rows = [
        ("messages / offered rate / window", f"{messages:,} / {args.rate:,.0f}/s / {args.window}"),
        ("offering took (worst lag)", f"{got.offering_s:.2f} s ({got.lag_s * 1000:.0f} ms)"),
        ("seconds, first submit to last receipt", f"{got.seconds:.2f}"),
        ("submits accepted / refused", f"{got.accepted:,} / {got.refused or 0}"),
        ("receipts received (distinct ids / deliver_sm)", f"{got.receipts:,} / {got.deliver_sm:,}"),
        ("receipts naming an id never accepted", str(got.unexpected)),
        ("SMSC: parts taken / receipts acknowledged", f"{taken:,} / {acknowledged:,}"),
        ("simulator CPU", f"{got.sim_cpu:.2f} s"),
        ("simulator CPU per message", f"{got.sim_cpu / messages * 1000:.4f} ms"),
        ("load generator CPU", f"{got.client_cpu:.2f} s"),
        *machine.rows(),
    ]  # fmt: skip
    print(table(machine_rows(), "Machine"))
    print(table(rows, "SMSC simulator CPU"))
    ok = got.receipts == got.accepted == messages == taken and got.unexpected == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
