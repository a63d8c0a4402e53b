"""An SMSC stand-in: a real SMPP 3.4 server on a TCP port, scriptable per phone.

What it speaks: `bind_transceiver` (credentials checked: `ESME_RINVSYSID`,
`ESME_RINVPASWD`), `submit_sm` → `submit_sm_resp` with a fresh message id,
`enquire_link`, `unbind`, and delivery receipts pushed as `deliver_sm` (esm_class 0x04,
`receipted_message_id` and `message_state` TLVs, and the customary receipt text
`id:… sub:001 dlvrd:001 submit date:… done date:… stat:DELIVRD err:000 text:…`) to a
bound transceiver of the same account, held and offered again until a `deliver_sm_resp`
with `ESME_ROK` takes them — across reconnects, as a real SMSC stores them.

What a phone does is its `Behaviour` (`Scripts("sms")`, by default the sandbox persona of
its last digit), per submitted part:

- `throttle`: answered `ESME_RTHROTTLED`;
- `fail`: answered with the status named by `fail_reason` (e.g. `ESME_RINVDSTADR`),
  else `ESME_RSUBMITFAIL`;
- `drop_connection`: the submit is taken (counted, its receipt scheduled) and the
  connection is dropped before it is answered — after whatever other submits already
  sit in the socket are taken the same way — once per phone until it is scripted again;
- `deliver_after_ms`: when the receipt goes (None: never), with the state `receipt`
  (DELIVRD, UNDELIV, EXPIRED, …) — as far as `registered_delivery` asks for one.

Everything taken is recorded: `parts` (one per submit_sm) and `received` (one per
message, concatenated parts put back together by their UDH reference), so tests count
real deliveries. The state object is the API for in-process use; `create_admin_app` is a
small HTTP face for a simulator run as a separate process (`main`):

    PUT    /_sim/script/{phone}      a Behaviour as JSON for that phone
    DELETE /_sim/script              back to the personas
    GET    /_sim/received            every message taken, oldest first
    GET    /_sim/parts               every submit_sm taken
    GET    /_sim/receipts            every receipt an ESME acknowledged
    DELETE /_sim/received            forget all three
    POST   /_sim/disconnect          drop every SMPP connection (a network cut)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Litestar, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from cascade.channels.sms import encoding
from cascade.channels.sms.pdu import (
    BIND_RECEIVER,
    BIND_TRANSCEIVER,
    BIND_TRANSMITTER,
    ENQUIRE_LINK,
    ESM_SMSC_RECEIPT,
    ESME_RALYBND,
    ESME_RBINDFAIL,
    ESME_RINVBNDSTS,
    ESME_RINVCMDID,
    ESME_RINVCMDLEN,
    ESME_RINVDSTADR,
    ESME_RINVPASWD,
    ESME_RINVSYSID,
    ESME_ROK,
    ESME_RSUBMITFAIL,
    ESME_RTHROTTLED,
    RESPONSE,
    STATE_BY_STAT,
    SUBMIT_SM,
    TLV_MESSAGE_STATE,
    TLV_RECEIPTED_MESSAGE_ID,
    UNBIND,
    Bind,
    DecodeError,
    Deliver,
    FramingError,
    Submit,
    bind_resp,
    body_of,
    decode_submit,
    encode,
    generic_nack,
    header,
    message_id_resp,
    read_pdu,
    status_by_name,
)
from cascade.clock import Clock, SystemClock
from cascade.simulators.script import Behaviour, Scripts

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_ID = "cascade"
DEFAULT_PASSWORD = "secret"  # noqa: S105 - the simulator's demo credential, worth nothing
SMSC_ID = "CASCADESIM"
RECEIPT_WINDOW = 10  # deliver_sm awaiting their deliver_sm_resp, per connection (default)
RECEIPT_TIMEOUT_S = 10.0


class SubmittedPart(msgspec.Struct, frozen=True, kw_only=True):
    """One submit_sm the SMSC took."""

    phone: str
    message_id: str
    text: str
    data_coding: int
    esm_class: int
    reference: int | None  # the concatenation UDH's reference; None for a lone part
    total: int
    sequence: int
    source_addr: str
    source_ton: int
    source_npi: int
    destination_addr: str
    dest_ton: int
    dest_npi: int
    validity_period: str
    registered_delivery: int
    system_id: str
    at_ms: int
    answered: bool  # False: taken on a connection dropped before the answer


class ReceivedSms(msgspec.Struct, frozen=True, kw_only=True):
    """One whole message the SMSC took (its parts reassembled)."""

    phone: str
    text: str
    parts: int
    message_ids: list[str]
    data_coding: int
    source_addr: str
    source_ton: int
    source_npi: int
    validity_period: str
    registered_delivery: int
    system_id: str
    at_ms: int
    answered: bool


class ReceiptSent(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery receipt an ESME acknowledged with ESME_ROK."""

    message_id: str
    phone: str
    stat: str
    at_ms: int
    attempts: int  # how many deliver_sm it took


@dataclass
class _Receipt:
    part: SubmittedPart
    stat: str
    attempts: int = 0


class _Dropped(Exception):
    """The script says: drop this connection before answering."""


@dataclass(eq=False)
class _Esme:
    """One TCP connection from an ESME."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    window: asyncio.Semaphore  # receipts awaiting their deliver_sm_resp
    system_id: str | None = None  # set once bound
    pending: dict[int, asyncio.Future[int]] = field(default_factory=dict)
    sequences: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    enquire_links: int = 0

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def lost(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection lost"))
                future.exception()
        self.pending.clear()


def _normal_phone(raw: str) -> str:
    return f"+{re.sub(r'[^0-9]', '', raw)}"


def _smpp_date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%y%m%d%H%M")


class SmscSimulator:
    """All the SMSC's state, and the SMPP server in front of it."""

    def __init__(
        self,
        *,
        system_id: str = DEFAULT_SYSTEM_ID,
        password: str = DEFAULT_PASSWORD,
        scripts: Scripts | None = None,
        clock: Clock | None = None,
        drain_quiet_s: float = 0.05,
        receipt_retry_s: float = 1.0,
        receipt_window: int = RECEIPT_WINDOW,
    ) -> None:
        self.system_id = system_id
        self.password = password
        self.scripts = scripts or Scripts("sms")
        self.clock = clock or SystemClock()
        self.drain_quiet_s = drain_quiet_s
        self.receipt_retry_s = receipt_retry_s
        self.receipt_window = receipt_window
        self.submit_delay_ms = 0  # answer each submit after this long (to fill a window)
        self.answer_enquire_link = True  # False: play a dead link
        self.received: list[ReceivedSms] = []
        self.parts: list[SubmittedPart] = []
        self.receipts: list[ReceiptSent] = []
        self.binds = 0
        self.bind_failures = 0
        self.connections = 0
        self.enquire_links = 0
        self.in_flight = 0  # submits taken and not answered yet
        self.max_in_flight = 0
        self._dropped: dict[str, Behaviour] = {}  # phone -> the script that dropped once
        self._assembling: dict[tuple[str, str, str, int, int], dict[int, SubmittedPart]] = {}
        self._esmes: set[_Esme] = set()
        self._outbox: deque[_Receipt] = deque()
        self._outbox_ready = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self.host = ""
        self.port = 0

    # --- admin ----------------------------------------------------------------------------

    def script(self, phone: str, behaviour: Behaviour) -> None:
        """Script a phone (a `drop_connection` script drops once again)."""
        phone = _normal_phone(phone)
        self.scripts.set(phone, behaviour)
        self._dropped.pop(phone, None)

    def reset(self) -> None:
        """Back to the personas."""
        self.scripts.clear()
        self._dropped.clear()
        self.submit_delay_ms = 0
        self.answer_enquire_link = True

    def clear_received(self) -> None:
        self.received.clear()
        self.parts.clear()
        self.receipts.clear()

    def count(self, phone: str, text: str | None = None) -> int:
        """How many whole messages to `phone` (with this text) the SMSC took."""
        phone = _normal_phone(phone)
        return sum(1 for m in self.received if m.phone == phone and text in (None, m.text))

    def disconnect_all(self) -> None:
        """Drop every connection, as a network cut would."""
        for esme in list(self._esmes):
            esme.writer.transport.abort()

    async def unbind_all(self) -> None:
        """Ask every bound ESME to unbind (as an SMSC going down for maintenance does)."""
        for esme in list(self._esmes):
            if esme.system_id is not None:
                esme.write(encode(UNBIND, next(esme.sequences)))

    @property
    def bound_sessions(self) -> int:
        return sum(1 for esme in self._esmes if esme.system_id is not None)

    # --- the server -------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on `host:port` (0: any free port); returns the port."""
        self._server = await asyncio.start_server(self._connection, host, port)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        self._spawn(self._dispatch_receipts())
        log.info("SMSC simulator listening on %s:%s", self.host, self.port)
        return self.port

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        self.disconnect_all()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        esme = _Esme(reader, writer, asyncio.Semaphore(self.receipt_window))
        self._esmes.add(esme)
        self.connections += 1
        try:
            while True:
                pdu = await read_pdu(reader)
                try:
                    if not self._handle(esme, pdu):
                        break
                except _Dropped:
                    await self._drain(esme)
                    writer.transport.abort()
                    break
        except FramingError:
            esme.write(generic_nack(0, ESME_RINVCMDLEN))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._esmes.discard(esme)
            esme.lost()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _handle(self, esme: _Esme, pdu: bytes) -> bool:
        """One PDU from the ESME; False when the connection is to end."""
        got = header(pdu)
        if got.command_id == BIND_TRANSCEIVER:
            self._bind(esme, got.sequence, pdu)
        elif got.command_id in (BIND_TRANSMITTER, BIND_RECEIVER):
            # This SMSC offers transceiver sessions only (receipts and submits on one link).
            esme.write(bind_resp(got.command_id, got.sequence, ESME_RBINDFAIL, SMSC_ID))
        elif got.command_id == SUBMIT_SM:
            if esme.system_id is None:
                esme.write(message_id_resp(SUBMIT_SM, got.sequence, ESME_RINVBNDSTS))
            else:
                self._submit(esme, pdu, answer=True)
        elif got.command_id == ENQUIRE_LINK:
            esme.enquire_links += 1
            self.enquire_links += 1
            if self.answer_enquire_link:
                esme.write(encode(ENQUIRE_LINK | RESPONSE, got.sequence))
        elif got.command_id == UNBIND:
            esme.write(encode(UNBIND | RESPONSE, got.sequence))
            return False
        elif got.is_response:
            future = esme.pending.pop(got.sequence, None)
            if future is not None and not future.done():
                future.set_result(got.status)
            if got.command_id == UNBIND | RESPONSE:
                return False
        else:
            esme.write(generic_nack(got.sequence, ESME_RINVCMDID))
        return True

    def _bind(self, esme: _Esme, sequence: int, pdu: bytes) -> None:
        try:
            bind = Bind.decode(body_of(pdu))
        except ValueError:
            status = ESME_RBINDFAIL
        else:
            if esme.system_id is not None:
                status = ESME_RALYBND
            elif bind.system_id != self.system_id:
                status = ESME_RINVSYSID
            elif bind.password != self.password:
                status = ESME_RINVPASWD
            else:
                status = ESME_ROK
        esme.write(bind_resp(BIND_TRANSCEIVER, sequence, status, SMSC_ID))
        if status == ESME_ROK:
            esme.system_id = bind.system_id
            self.binds += 1
            self._outbox_ready.set()  # stored receipts can go now
        elif status != ESME_RALYBND:
            self.bind_failures += 1

    # --- submits -----------------------------------------------------------------------------

    def _submit(self, esme: _Esme, pdu: bytes, *, answer: bool) -> None:
        """Take (or refuse) one submit_sm; raises _Dropped when the script says so."""
        try:
            sequence, submit = decode_submit(pdu)
        except DecodeError as error:
            if answer:
                esme.write(message_id_resp(SUBMIT_SM, header(pdu).sequence, error.status))
            return
        phone = _normal_phone(submit.destination_addr)
        behaviour = self.scripts.get(phone)
        status = ESME_ROK
        if not submit.destination_addr.isdigit():
            status = ESME_RINVDSTADR
        elif behaviour.throttle:
            status = ESME_RTHROTTLED
        elif behaviour.fail:
            status = status_by_name(behaviour.fail_reason) or ESME_RSUBMITFAIL
        if status != ESME_ROK:
            if answer:
                esme.write(message_id_resp(SUBMIT_SM, sequence, status))
            return
        drop = answer and behaviour.drop_connection and self._dropped.get(phone) is not behaviour
        message_id = secrets.token_hex(8)
        self._take(esme, phone, message_id, submit, behaviour, answered=answer and not drop)
        if drop:
            self._dropped[phone] = behaviour
            raise _Dropped
        if not answer:
            return
        response = message_id_resp(SUBMIT_SM, sequence, ESME_ROK, message_id)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.submit_delay_ms > 0:
            self._spawn(self._answer_later(esme, response, self.submit_delay_ms / 1000))
        else:
            esme.write(response)
            self.in_flight -= 1

    async def _answer_later(self, esme: _Esme, response: bytes, delay_s: float) -> None:
        try:
            await asyncio.sleep(delay_s)
            esme.write(response)
        finally:
            self.in_flight -= 1

    async def _drain(self, esme: _Esme) -> None:
        """Before dropping: take, unanswered, the submits that already reached us."""
        while True:
            try:
                pdu = await asyncio.wait_for(read_pdu(esme.reader), self.drain_quiet_s)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, FramingError):
                return
            if header(pdu).command_id == SUBMIT_SM and esme.system_id is not None:
                self._submit(esme, pdu, answer=False)

    def _take(
        self,
        esme: _Esme,
        phone: str,
        message_id: str,
        submit: Submit,
        behaviour: Behaviour,
        *,
        answered: bool,
    ) -> None:
        concatenation: encoding.Concatenation | None = None
        payload = submit.short_message
        if submit.esm_class & encoding.UDHI:
            with contextlib.suppress(ValueError):
                concatenation, payload = encoding.parse_udh(payload)
        part = SubmittedPart(
            phone=phone,
            message_id=message_id,
            text=encoding.decode(payload, submit.data_coding),
            data_coding=submit.data_coding,
            esm_class=submit.esm_class,
            reference=concatenation.reference if concatenation else None,
            total=concatenation.total if concatenation else 1,
            sequence=concatenation.sequence if concatenation else 1,
            source_addr=submit.source_addr,
            source_ton=submit.source_ton,
            source_npi=submit.source_npi,
            destination_addr=submit.destination_addr,
            dest_ton=submit.dest_ton,
            dest_npi=submit.dest_npi,
            validity_period=submit.validity_period,
            registered_delivery=submit.registered_delivery,
            system_id=esme.system_id or "",
            at_ms=self.clock.now_ms(),
            answered=answered,
        )
        self.parts.append(part)
        self._assemble(part)
        self._schedule_receipt(part, behaviour)

    def _assemble(self, part: SubmittedPart) -> None:
        if part.reference is None or part.total <= 1:
            self._complete([part])
            return
        key = (part.system_id, part.source_addr, part.phone, part.reference, part.total)
        pieces = self._assembling.setdefault(key, {})
        pieces[part.sequence] = part
        if len(pieces) == part.total:
            del self._assembling[key]
            self._complete([pieces[number] for number in sorted(pieces)])

    def _complete(self, pieces: list[SubmittedPart]) -> None:
        first = pieces[0]
        self.received.append(
            ReceivedSms(
                phone=first.phone,
                text="".join(piece.text for piece in pieces),
                parts=len(pieces),
                message_ids=[piece.message_id for piece in pieces],
                data_coding=first.data_coding,
                source_addr=first.source_addr,
                source_ton=first.source_ton,
                source_npi=first.source_npi,
                validity_period=first.validity_period,
                registered_delivery=first.registered_delivery,
                system_id=first.system_id,
                at_ms=first.at_ms,
                answered=all(piece.answered for piece in pieces),
            )
        )

    # --- receipts ----------------------------------------------------------------------------

    def _schedule_receipt(self, part: SubmittedPart, behaviour: Behaviour) -> None:
        if behaviour.deliver_after_ms is None:
            return  # the phone never confirms
        stat = behaviour.receipt.upper()
        wanted = part.registered_delivery & 0x03
        if wanted == 0 or (wanted == 2 and stat == "DELIVRD"):
            return  # no receipt asked for (2: failures only)
        self._spawn(self._receipt_later(_Receipt(part, stat), behaviour.deliver_after_ms / 1000))

    async def _receipt_later(self, receipt: _Receipt, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self._outbox.append(receipt)
        self._outbox_ready.set()

    def _receiver(self, system_id: str) -> _Esme | None:
        bound = [esme for esme in self._esmes if esme.system_id == system_id]
        return secrets.choice(bound) if bound else None

    async def _dispatch_receipts(self) -> None:
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            waiting: deque[_Receipt] = deque()
            while self._outbox:
                receipt = self._outbox.popleft()
                esme = self._receiver(receipt.part.system_id)
                if esme is None:
                    waiting.append(receipt)  # held until that account binds again
                    continue
                self._spawn(self._send_receipt(esme, receipt))
            self._outbox.extend(waiting)

    async def _send_receipt(self, esme: _Esme, receipt: _Receipt) -> None:
        async with esme.window:
            if esme.writer.is_closing():
                # the link went while this receipt waited for a window slot: offer it on
                # the next bind at once rather than wait out an answer that cannot come
                self._outbox.append(receipt)
                self._outbox_ready.set()
                return
            sequence = next(esme.sequences)
            answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            esme.pending[sequence] = answer
            receipt.attempts += 1
            esme.write(self._receipt_pdu(receipt, sequence))
            try:
                status = await asyncio.wait_for(answer, RECEIPT_TIMEOUT_S)
            except (TimeoutError, ConnectionError):
                esme.pending.pop(sequence, None)
                status = None
        if status == ESME_ROK:
            part = receipt.part
            self.receipts.append(
                ReceiptSent(
                    message_id=part.message_id,
                    phone=part.phone,
                    stat=receipt.stat,
                    at_ms=self.clock.now_ms(),
                    attempts=receipt.attempts,
                )
            )
            return
        if status is not None:  # refused for now (e.g. ESME_RX_T_APPN): offer it again later
            await asyncio.sleep(self.receipt_retry_s)
        self._outbox.append(receipt)
        self._outbox_ready.set()

    def _receipt_pdu(self, receipt: _Receipt, sequence: int) -> bytes:
        part, stat = receipt.part, receipt.stat
        delivered = stat == "DELIVRD"
        prefix = (
            f"id:{part.message_id} sub:001 dlvrd:{'001' if delivered else '000'} "
            f"submit date:{_smpp_date(part.at_ms)} done date:{_smpp_date(self.clock.now_ms())} "
            f"stat:{stat} err:{'000' if delivered else '001'} text:"
        )
        text = prefix + part.text[:20]
        if encoding.is_gsm7(text):
            data_coding, payload = 0x00, encoding.encode_gsm7(text)
        else:
            data_coding, payload = 0x08, text.encode("utf-16-be")
        payload = payload[:254]
        return Deliver(
            source_addr=part.phone.removeprefix("+"),
            source_ton=1,
            source_npi=1,
            destination_addr=part.source_addr,
            dest_ton=part.source_ton,
            dest_npi=part.source_npi,
            esm_class=ESM_SMSC_RECEIPT,
            data_coding=data_coding,
            short_message=payload,
            tlvs={
                TLV_RECEIPTED_MESSAGE_ID: part.message_id.encode("ascii") + b"\x00",
                TLV_MESSAGE_STATE: bytes((STATE_BY_STAT.get(stat, 7),)),
            },
        ).encode(sequence)


async def create_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    system_id: str = DEFAULT_SYSTEM_ID,
    password: str = DEFAULT_PASSWORD,
    scripts: Scripts | None = None,
    clock: Clock | None = None,
    receipt_window: int = RECEIPT_WINDOW,
) -> SmscSimulator:
    """A started simulator listening on `host:port` (0: any free port, see `.port`)."""
    simulator = SmscSimulator(
        system_id=system_id,
        password=password,
        scripts=scripts,
        clock=clock,
        receipt_window=receipt_window,
    )
    await simulator.start(host, port)
    return simulator


# --- the HTTP admin ---------------------------------------------------------------------------

_JSON = "application/json"


def _json(status: int, body: Any) -> Response[bytes]:
    return Response(content=msgspec.json.encode(body), status_code=status, media_type=_JSON)


def _sim(state: State) -> SmscSimulator:
    simulator: SmscSimulator = state.simulator
    return simulator


@put("/_sim/script/{phone:str}", status_code=204)
async def put_script(state: State, phone: FromPath[str], data: JSONBody[Behaviour]) -> None:
    _sim(state).script(phone, data)


@delete("/_sim/script", status_code=204)
async def clear_scripts(state: State) -> None:
    _sim(state).reset()


@get("/_sim/received")
async def get_received(state: State) -> Response[bytes]:
    return _json(200, _sim(state).received)


@get("/_sim/parts")
async def get_parts(state: State) -> Response[bytes]:
    return _json(200, _sim(state).parts)


@get("/_sim/receipts")
async def get_receipts(state: State) -> Response[bytes]:
    return _json(200, _sim(state).receipts)


@delete("/_sim/received", status_code=204)
async def clear_received(state: State) -> None:
    _sim(state).clear_received()


@post("/_sim/disconnect", status_code=204)
async def disconnect(state: State) -> None:
    _sim(state).disconnect_all()


def create_admin_app(simulator: SmscSimulator) -> Litestar:
    """The `/_sim/` admin API over `simulator` (its state is `app.state.simulator`)."""
    return Litestar(
        route_handlers=[
            put_script,
            clear_scripts,
            get_received,
            get_parts,
            get_receipts,
            clear_received,
            disconnect,
        ],
        state=State({"simulator": simulator}),
        openapi_config=None,
    )


async def serve(
    host: str = "127.0.0.1",
    port: int = 2775,
    admin_port: int = 8093,
    *,
    system_id: str = DEFAULT_SYSTEM_ID,
    password: str = DEFAULT_PASSWORD,
    receipt_window: int = RECEIPT_WINDOW,
) -> None:
    """The SMPP server on `port` and its admin API on `admin_port`, until interrupted."""
    import uvicorn

    simulator = await create_server(
        host, port, system_id=system_id, password=password, receipt_window=receipt_window
    )
    config = uvicorn.Config(
        create_admin_app(simulator),
        host=host,
        port=admin_port,
        access_log=False,
        ws="none",
        log_level="warning",
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        await simulator.aclose()


def main(
    host: str = "127.0.0.1",
    port: int = 2775,
    admin_port: int = 8093,
    *,
    system_id: str = DEFAULT_SYSTEM_ID,
    password: str = DEFAULT_PASSWORD,
    receipt_window: int = RECEIPT_WINDOW,
) -> None:
    """Run the simulator standalone (`python -m cascade.simulators.smsc`)."""
    from cascade import loop

    loop.run(
        serve(
            host,
            port,
            admin_port,
            system_id=system_id,
            password=password,
            receipt_window=receipt_window,
        )
    )


__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_SYSTEM_ID",
    "ReceiptSent",
    "ReceivedSms",
    "SmscSimulator",
    "SubmittedPart",
    "create_admin_app",
    "create_server",
    "main",
    "serve",
]
