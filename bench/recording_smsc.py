"""A recording SMSC for the crash soak: an SMPP 3.4 server that is not Cascade's own code.

It is built on the `smpp34` package (a Rust/tokio SMPP engine with a Python binding),
not on Cascade's simulator (`cascade.simulators.smsc`) nor its codec
(`cascade.channels.sms`): what the soak measures is checked by a peer that shares no code
with the product. It imports nothing from `cascade`. Two engines (`--engine`):

- **`server`** (the default): the library's own server. Binds, `enquire_link`, windowing
  and the PDU codec are the library's. Each event crosses from its tokio threads to the
  Python event loop on its own, which costs about 0.2 ms of CPU per submit and holds it
  near 4,000 submits/s on a two-core machine: plenty for the crash soak, too few to
  measure a gateway's top speed (`bench/peer_kannel.py`).
- **`codec`**: an asyncio server of this file (on uvloop when installed) frames the PDUs
  and answers binds, `enquire_link`, `unbind` and `submit_sm` itself; every `submit_sm`
  is decoded and every `deliver_sm` encoded by the library's codec (`smpp34.decode`,
  `smpp34.DeliverSm`). Responses written in one turn of the loop go out as one write.
  Everything below holds for both.

What it does, as a real SMSC would:

- **Binds.** `bind_transceiver`, `bind_transmitter` and `bind_receiver` are taken by the
  library (its Python binding accepts any credentials: there is no bind hook). A session
  whose `system_id` is not `--system-id` is unbound at once and never gets receipts.
- **`submit_sm`** is answered `ESME_ROK` with a fresh message id, and RECORDED: time,
  session, system id, source and destination (with TON/NPI), `esm_class`, `data_coding`,
  the text (GSM-7 unpacked or UCS-2, UDH stripped), the concatenation part if any, and
  the id given.
- **Receipts.** `--receipt-delay-ms` after each submit that asks for one
  (`registered_delivery`), a `deliver_sm` with `esm_class` 0x04 in the customary text
  format `id:… sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD
  err:000 text:<first 20 characters>` and the `receipted_message_id` and `message_state`
  (2, DELIVERED) TLVs, from the handset (source = the submit's destination) to the
  sender. It goes to any bound session of the same `system_id` that can receive (round
  robin), not necessarily the one that submitted. A receipt not answered `ESME_ROK`
  (refused, the link lost, no answer in `--receipt-timeout-s`) is queued and offered
  again after `--retry-s`, to whichever session of that system id is bound then: real
  SMSCs keep DLRs until an ESME takes them.
- **`enquire_link`** is answered by the library.

An admin HTTP server on loopback (`--admin-port`) tells what it saw:

- `GET /stats`: counts (submits, binds, receipts sent / refused / failed / pending …);
- `GET /submits`: every submit it recorded, with what became of its receipt (offers,
  the status of each answer, when it was taken).

With `--record FILE` the submits are also written there as JSON lines when it stops
(SIGTERM or SIGINT).

    .venv/bin/python bench/recording_smsc.py --port 2775 --admin-port 2776 --system-id bench
    .venv/bin/python bench/recording_smsc.py --port 2775 --admin-port 2776 --engine codec
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import signal
import struct
import sys
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import smpp34
from aiohttp import web

UDHI = 0x40
ESM_RECEIPT = 0x04
DATA_CODING_UCS2 = 0x08
MESSAGE_STATE_DELIVERED = 2
ESME_RINVBNDSTS = 0x00000004  # not among the library's constants
ESME_RALYBND = 0x00000005
RECEIPT_TEXT_CHARS = 20

# GSM 03.38 default alphabet and its extension table (after ESC, 0x1B), unpacked: one
# septet per octet, as SMPP data_coding 0 carries it. Written here, not imported, so the
# recorder reads the product's bytes independently.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
_GSM7_CODE = {char: code for code, char in enumerate(GSM7_BASIC) if code != 0x1B}
_GSM7_EXTENSION_CODE = {char: code for code, char in GSM7_EXTENSION.items()}
assert len(GSM7_BASIC) == 128


def gsm7_decode(data: bytes) -> str:
    out: list[str] = []
    escaped = False
    for octet in data:
        if escaped:
            out.append(GSM7_EXTENSION.get(octet, "?"))
            escaped = False
        elif octet == 0x1B:
            escaped = True
        else:
            out.append(GSM7_BASIC[octet & 0x7F])
    return "".join(out)


def gsm7_encode(text: str) -> bytes:
    out = bytearray()
    for char in text:
        if char in _GSM7_CODE:
            out.append(_GSM7_CODE[char])
        elif char in _GSM7_EXTENSION_CODE:
            out += bytes((0x1B, _GSM7_EXTENSION_CODE[char]))
        else:
            out.append(_GSM7_CODE["?"])
    return bytes(out)


def message_text(short_message: bytes, esm_class: int, data_coding: int) -> tuple[str, str]:
    """(text, concatenation "ref/total/seq" or "") of a submit's short_message."""
    part = ""
    payload = short_message
    if esm_class & UDHI and payload:
        header_length = payload[0]
        udh, payload = payload[1 : 1 + header_length], payload[1 + header_length :]
        i = 0
        while i + 1 < len(udh):
            iei, length = udh[i], udh[i + 1]
            value = udh[i + 2 : i + 2 + length]
            if iei == 0x00 and length == 3:
                part = f"{value[0]}/{value[1]}/{value[2]}"
            elif iei == 0x08 and length == 4:
                part = f"{int.from_bytes(value[:2], 'big')}/{value[2]}/{value[3]}"
            i += 2 + length
    if data_coding == DATA_CODING_UCS2:
        return payload.decode("utf-16-be", errors="replace"), part
    if data_coding in (0x01, 0x03):
        return payload.decode("latin-1"), part
    return gsm7_decode(payload), part


def smpp_time(epoch_s: float) -> str:
    return time.strftime("%y%m%d%H%M", time.gmtime(epoch_s))


@dataclass
class Submit:
    """One submit_sm the SMSC took, and what became of its receipt."""

    n: int
    at_ms: int
    session: str
    system_id: str
    source: str
    source_ton: int
    source_npi: int
    destination: str
    dest_ton: int
    dest_npi: int
    esm_class: int
    data_coding: int
    registered_delivery: int
    text: str
    part: str
    message_id: str
    # the receipt: each offer's answer ("ok", "0x00000064", "lost: …"), and when taken
    offers: list[str] = field(default_factory=list)
    receipt_taken_ms: int | None = None
    receipt_taken_by: str | None = None


# --- the codec engine: our sessions, the library's codec ------------------------------------

HEADER = struct.Struct(">IIII")  # command_length, command_id, command_status, sequence
RESPONSE = 0x80000000
GENERIC_NACK = 0x80000000
BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER = 0x00000001, 0x00000002, 0x00000009
SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK = 0x00000004, 0x00000005, 0x00000006, 0x00000015
MAX_PDU = 64 * 1024


@dataclass
class CodecAnswer:
    """What a deliver_sm got back (as `smpp34.DeliverSmResp` tells it)."""

    command_status: int


@dataclass
class CodecUnbound:
    session_id: str


class CodecSubmit:
    """A submit_sm decoded by `smpp34.decode`, answered through its session (the fields
    the recorder reads, as `smpp34.SubmitSmEvent` has them)."""

    __slots__ = ("pdu", "sequence", "session")

    def __init__(self, pdu: smpp34.SubmitSm, session: CodecSession, sequence: int) -> None:
        self.pdu, self.session, self.sequence = pdu, session, sequence

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pdu, name)

    @property
    def session_id(self) -> str:
        return self.session.session_id

    def accept(self, message_id: str) -> None:
        self.session.respond(SUBMIT_SM | RESPONSE, self.sequence, 0, message_id.encode() + b"\0")

    def reject(self, command_status: int = 0x00000008) -> None:
        self.session.respond(SUBMIT_SM | RESPONSE, self.sequence, command_status)


class CodecSession(asyncio.Protocol):
    """One ESME's connection. Also what the recorder keeps as its `esme`: `system_id`,
    `session_id`, `can_receive`, `deliver_sm(...)`, `unbind()`."""

    def __init__(self, server: CodecServer) -> None:
        self.server = server
        self.session_id = str(uuid.uuid4())
        self.system_id = ""
        self.can_receive = False
        self.bound = False
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._out: list[bytes] = []
        self._flush_due = False
        self._sequence = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[CodecAnswer]] = {}

    # the connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.sessions.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.sessions.discard(self)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionResetError("the link was lost"))
        self._waiting.clear()
        if self.bound:
            self.bound = False
            self.server.events.put_nowait(CodecUnbound(self.session_id))

    def send(self, data: bytes) -> None:
        """Queued; everything queued in one turn of the loop goes out as one write."""
        self._out.append(data)
        if not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        if self._out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self._out))
        self._out.clear()

    def respond(self, command_id: int, sequence: int, status: int, body: bytes = b"") -> None:
        self.send(HEADER.pack(16 + len(body), command_id, status, sequence) + body)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 16:
            length = int.from_bytes(buffer[:4], "big")
            if not 16 <= length <= MAX_PDU:
                self.respond(GENERIC_NACK, 0, 0x00000002)  # ESME_RINVCMDLEN
                self._flush()
                assert self.transport is not None
                self.transport.close()
                return
            if len(buffer) < length:
                break
            pdu = bytes(buffer[:length])
            del buffer[:length]
            self._pdu(pdu)

    def _pdu(self, pdu: bytes) -> None:
        _, command_id, status, sequence = HEADER.unpack_from(pdu)
        if command_id == SUBMIT_SM:
            if not self.bound:
                self.respond(SUBMIT_SM | RESPONSE, sequence, ESME_RINVBNDSTS)
                return
            try:
                decoded = smpp34.decode(pdu)
            except smpp34.SmppError:
                self.respond(SUBMIT_SM | RESPONSE, sequence, 0x00000008)  # ESME_RSYSERR
                return
            self.server.events.put_nowait(CodecSubmit(decoded, self, sequence))  # type: ignore[arg-type]
        elif command_id in (DELIVER_SM | RESPONSE, GENERIC_NACK):
            future = self._waiting.pop(sequence, None)
            if future is not None and not future.done():
                future.set_result(CodecAnswer(status))
        elif command_id == ENQUIRE_LINK:
            self.respond(ENQUIRE_LINK | RESPONSE, sequence, 0)
        elif command_id in (BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER):
            self._bind(command_id, sequence, pdu[16:])
        elif command_id == UNBIND:
            self.respond(UNBIND | RESPONSE, sequence, 0)
            self._flush()
            assert self.transport is not None
            self.transport.close()
        elif command_id in (UNBIND | RESPONSE, ENQUIRE_LINK | RESPONSE):
            if command_id == UNBIND | RESPONSE and self.transport is not None:
                self.transport.close()
        elif not command_id & RESPONSE:
            self.respond(GENERIC_NACK, sequence, 0x00000003)  # ESME_RINVCMDID

    def _bind(self, command_id: int, sequence: int, body: bytes) -> None:
        if self.bound:
            self.respond(command_id | RESPONSE, sequence, ESME_RALYBND)
            return
        self.system_id = body.split(b"\0", 1)[0].decode("latin-1")
        self.can_receive = command_id != BIND_TRANSMITTER
        self.bound = True
        self.respond(command_id | RESPONSE, sequence, 0, self.server.smsc_id.encode() + b"\0")
        self.server.events.put_nowait(self)

    # as the recorder's `esme`

    async def deliver_sm(
        self, destination_addr: str, short_message: bytes, **fields: Any
    ) -> CodecAnswer:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("the link is closed")
        sequence = next(self._sequence)
        pdu = smpp34.DeliverSm(
            fields.pop("source_addr"),
            destination_addr,
            short_message,
            sequence_number=sequence,
            **fields,
        ).encode()
        future: asyncio.Future[CodecAnswer] = asyncio.get_running_loop().create_future()
        self._waiting[sequence] = future
        self.send(pdu)
        try:
            return await future
        finally:
            self._waiting.pop(sequence, None)

    async def unbind(self) -> None:
        self.respond(UNBIND, next(self._sequence), 0)
        self._flush()
        await asyncio.sleep(0.1)
        if self.transport is not None:
            self.transport.close()


class CodecServer:
    """The same events as `smpp34.Server.next()` gives (a session on its bind, a submit,
    an unbind), from the sessions above."""

    def __init__(self, host: str, port: int, smsc_id: str) -> None:
        self.host, self.port, self.smsc_id = host, port, smsc_id
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self.sessions: set[CodecSession] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: CodecSession(self), self.host, self.port, backlog=128
        )

    async def next(self) -> Any:
        return await self.events.get()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()


# --- the recorder ------------------------------------------------------------------------


@dataclass
class Session:
    esme: smpp34.Esme | CodecSession
    system_id: str
    can_receive: bool
    bound_at_ms: int
    alive: bool = True
    in_flight: int = 0


class RecordingSmsc:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.server: smpp34.Server | CodecServer
        if args.engine == "codec":
            self.server = CodecServer(args.host, args.port, args.smsc_id)
        else:
            self.server = smpp34.Server(
                args.host, args.port, system_id=args.smsc_id, inbound_capacity=100_000
            )
        self.sessions: dict[str, Session] = {}
        self.submits: list[Submit] = []
        self.due: dict[str, deque[Submit]] = {}  # per system id: receipts to offer, in order
        self.wake = asyncio.Event()
        self._ids = itertools.count(random.randrange(1 << 40, 1 << 44))
        self._rr = itertools.count()
        self.counts = dict.fromkeys(
            (
                "binds",
                "binds_refused",
                "unbinds",
                "submits",
                "receipts_offered",
                "receipts_taken",
                "receipts_refused",
                "receipts_lost",
                "receipts_retried",
            ),
            0,
        )
        self._tasks: set[asyncio.Task[None]] = set()

    # --- the SMPP side ---------------------------------------------------------------------

    async def serve(self) -> None:
        await self.server.start()
        self._spawn(self._offer_loop())
        while True:
            event = await self.server.next()
            if isinstance(event, (smpp34.SubmitSmEvent, CodecSubmit)):
                self._submit(event)
            elif isinstance(event, (smpp34.Esme, CodecSession)):
                self._bound(event)
            elif isinstance(event, (smpp34.Unbound, CodecUnbound)):
                session = self.sessions.get(event.session_id)
                if session is not None:
                    session.alive = False
                self.counts["unbinds"] += 1

    def _bound(self, esme: smpp34.Esme | CodecSession) -> None:
        if self.args.system_id and esme.system_id != self.args.system_id:
            self.counts["binds_refused"] += 1
            self._spawn(esme.unbind())
            return
        self.counts["binds"] += 1
        self.sessions[esme.session_id] = Session(esme, esme.system_id, esme.can_receive, now_ms())
        self.wake.set()

    def _submit(self, event: smpp34.SubmitSmEvent | CodecSubmit) -> None:
        session = self.sessions.get(event.session_id)
        if session is None or not session.alive:
            event.reject(ESME_RINVBNDSTS)
            return
        message_id = f"{next(self._ids):012x}"
        text, part = message_text(event.short_message, event.esm_class, event.data_coding)
        submit = Submit(
            n=len(self.submits),
            at_ms=now_ms(),
            session=event.session_id,
            system_id=session.system_id,
            source=event.source_addr,
            source_ton=event.source_addr_ton,
            source_npi=event.source_addr_npi,
            destination=event.destination_addr,
            dest_ton=event.dest_addr_ton,
            dest_npi=event.dest_addr_npi,
            esm_class=event.esm_class,
            data_coding=event.data_coding,
            registered_delivery=event.registered_delivery,
            text=text,
            part=part,
            message_id=message_id,
        )
        event.accept(message_id)
        self.submits.append(submit)
        self.counts["submits"] += 1
        if event.registered_delivery & 0x03:
            asyncio.get_running_loop().call_later(
                self.args.receipt_delay_ms / 1000, self._queue, submit
            )

    def _queue(self, submit: Submit, *, first: bool = False) -> None:
        queue = self.due.setdefault(submit.system_id, deque())
        if first:
            queue.appendleft(submit)
        else:
            queue.append(submit)
        self.wake.set()

    def _receivers(self, system_id: str) -> list[Session]:
        return [
            s
            for s in self.sessions.values()
            if s.alive
            and s.can_receive
            and s.system_id == system_id
            and s.in_flight < self.args.receipt_window
        ]

    async def _offer_loop(self) -> None:
        """Hand each due receipt to a bound receiver with room in its window."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            for system_id, queue in self.due.items():
                while queue:
                    receivers = self._receivers(system_id)
                    if not receivers:
                        break  # woken again by a bind or an answered receipt
                    session = receivers[next(self._rr) % len(receivers)]
                    submit = queue.popleft()
                    session.in_flight += 1
                    self._spawn(self._offer(session, submit))

    async def _offer(self, session: Session, submit: Submit) -> None:
        self.counts["receipts_offered"] += 1
        if submit.offers:
            self.counts["receipts_retried"] += 1
        answer: smpp34.DeliverSmResp | CodecAnswer
        try:
            answer = await asyncio.wait_for(
                session.esme.deliver_sm(
                    submit.source,
                    self._receipt_text(submit),
                    source_addr=submit.destination,
                    source_addr_ton=submit.dest_ton,
                    source_addr_npi=submit.dest_npi,
                    dest_addr_ton=submit.source_ton,
                    dest_addr_npi=submit.source_npi,
                    esm_class=ESM_RECEIPT,
                    data_coding=0,
                    tlvs=[
                        smpp34.Tlv(
                            smpp34.TLV_RECEIPTED_MESSAGE_ID,
                            submit.message_id.encode() + b"\0",
                        ),
                        smpp34.Tlv(
                            smpp34.TLV_MESSAGE_STATE,
                            bytes((MESSAGE_STATE_DELIVERED,)),
                        ),
                    ],
                ),
                self.args.receipt_timeout_s,
            )
        except (smpp34.SmppError, TimeoutError, OSError) as error:
            outcome = f"lost: {type(error).__name__} {error}".strip()
            self.counts["receipts_lost"] += 1
        else:
            if answer.command_status == 0:
                outcome = "ok"
            else:
                outcome = f"0x{answer.command_status:08x}"
                self.counts["receipts_refused"] += 1
        finally:
            session.in_flight -= 1
            self.wake.set()
        submit.offers.append(f"{session.esme.session_id[:8]} {outcome}")
        if outcome == "ok":
            submit.receipt_taken_ms = now_ms()
            submit.receipt_taken_by = session.esme.session_id
            self.counts["receipts_taken"] += 1
        else:
            asyncio.get_running_loop().call_later(
                self.args.retry_s, lambda: self._queue(submit, first=True)
            )

    @staticmethod
    def _receipt_text(submit: Submit) -> bytes:
        at = submit.at_ms / 1000
        return gsm7_encode(
            f"id:{submit.message_id} sub:001 dlvrd:001 submit date:{smpp_time(at)} "
            f"done date:{smpp_time(time.time())} stat:DELIVRD err:000 "
            f"text:{submit.text[:RECEIPT_TEXT_CHARS]}"
        )

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- what it saw ---------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        pending = sum(1 for s in self.submits if s.registered_delivery & 3 and not s.offers)
        waiting = sum(len(q) for q in self.due.values())
        return {
            **self.counts,
            "sessions_bound_now": sum(1 for s in self.sessions.values() if s.alive),
            "receipts_due": waiting,
            "receipts_not_taken": sum(
                1 for s in self.submits if s.registered_delivery & 3 and s.receipt_taken_ms is None
            ),
            "receipts_not_offered_yet": pending,
        }

    def write_record(self, path: Path) -> None:
        with path.open("w") as out:
            for submit in self.submits:
                out.write(json.dumps(asdict(submit)) + "\n")


def now_ms() -> int:
    return int(time.time() * 1000)


async def admin_app(smsc: RecordingSmsc) -> web.AppRunner:
    async def stats(_: web.Request) -> web.Response:
        return web.json_response(smsc.stats())

    async def submits(_: web.Request) -> web.Response:
        return web.json_response([asdict(s) for s in smsc.submits])

    app = web.Application()
    app.router.add_get("/stats", stats)
    app.router.add_get("/submits", submits)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", smsc.args.admin_port).start()
    return runner


async def main_async(args: argparse.Namespace) -> None:
    smsc = RecordingSmsc(args)
    runner = await admin_app(smsc)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    serving = asyncio.ensure_future(smsc.serve())
    stop_wait = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({serving, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            serving.result()  # raise what ended it
    finally:
        for task in (serving, stop_wait):
            task.cancel()
        if args.record:
            smsc.write_record(Path(args.record))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(smsc.server.stop(), 5)
        await runner.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--system-id", default="", help="the only system_id served (any if '')")
    parser.add_argument("--smsc-id", default="RECSMSC", help="system_id in bind responses")
    parser.add_argument("--receipt-delay-ms", type=float, default=50)
    parser.add_argument("--receipt-window", type=int, default=32, help="receipts in flight a link")
    parser.add_argument("--receipt-timeout-s", type=float, default=10)
    parser.add_argument(
        "--retry-s", type=float, default=1.0, help="before offering a receipt again"
    )
    parser.add_argument("--record", help="write every submit here (JSON lines) when stopped")
    parser.add_argument(
        "--engine", choices=["server", "codec"], default="server",
        help="server: smpp34's own server; codec: our asyncio sessions on smpp34's codec",
    )  # fmt: skip
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("loopback only")
    if args.engine == "codec":
        with contextlib.suppress(ImportError):
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
