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
import functools
import itertools
import logging
import random
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

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
    HEADER,
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
    PduSplitter,
    Submit,
    bind_resp,
    body_of,
    decode_submit,
    encode,
    generic_nack,
    header,
    message_id_resp,
    status_by_name,
)
from cascade.clock import Clock, SystemClock
from cascade.ids import random_hex
from cascade.simulators.script import Behaviour, Scripts

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_ID = "cascade"
DEFAULT_PASSWORD = "secret"  # noqa: S105 - the simulator's demo credential, worth nothing
SMSC_ID = "CASCADESIM"
RECEIPT_WINDOW = 10  # deliver_sm awaiting their deliver_sm_resp, per connection (default)
RECEIPT_TIMEOUT_S = 10.0
EARLY_S = 0.001  # a receipt may go this much before its time, with others due then


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


@dataclass(slots=True, eq=False)
class _Receipt:
    part: SubmittedPart
    stat: str
    attempts: int = 0


class _Dropped(Exception):
    """The script says: drop this connection before answering."""


class _Esme(asyncio.Protocol):
    """One TCP connection from an ESME.

    Every whole PDU a read brings is handled at once, and what they call for (responses,
    and the receipts a freed window slot lets go) leaves in one write at the end. Receipts
    given to this connection wait in `queue` for a window slot, then in `pending` (by
    deliver_sm sequence, oldest first) for their deliver_sm_resp.
    """

    __slots__ = (
        "closed",
        "draining",
        "enquire_links",
        "expiry",
        "out",
        "pending",
        "queue",
        "quiet",
        "sequences",
        "simulator",
        "splitter",
        "system_id",
        "transport",
        "window",
    )

    def __init__(self, simulator: SmscSimulator) -> None:
        self.simulator = simulator
        self.window = simulator.receipt_window  # receipts awaiting their deliver_sm_resp
        self.transport: asyncio.Transport | None = None
        self.system_id: str | None = None  # set once bound
        self.splitter = PduSplitter()
        self.out: list[bytes] = []  # what this read (or timer) calls for, written once
        self.queue: deque[_Receipt] = deque()  # given to this link, waiting for a slot
        self.pending: dict[int, tuple[_Receipt, float]] = {}  # sequence -> (receipt, deadline)
        self.sequences = itertools.count(1)
        self.enquire_links = 0
        self.closed = False  # ended (or ending): reads nothing more, takes no receipts
        self.draining = False  # dropping: takes, unanswered, the submits already sent
        self.quiet: asyncio.TimerHandle | None = None  # ends the drain
        self.expiry: asyncio.TimerHandle | None = None  # times out the oldest pending

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.simulator._esmes.add(self)
        self.simulator.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.simulator._offer_all(self.detach())

    def eof_received(self) -> bool:
        self.simulator._offer_all(self.detach())
        return False  # the transport closes itself

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        took = False
        try:
            for pdu in self.splitter.feed(data):  # only the splitter raises FramingError
                took = True
                if self.draining:
                    self.drained(pdu)
                    continue
                try:
                    if not self.handle(pdu):
                        self.end()
                        return
                except _Dropped:
                    self.flush()  # what was answered before the dropping submit still goes
                    self.draining = True
        except FramingError:
            self.framing_error()
            return
        if self.draining:
            if took:  # wait for more submits until the socket is quiet, then drop
                if self.quiet is not None:
                    self.quiet.cancel()
                self.quiet = self.simulator._loop.call_later(
                    self.simulator.drain_quiet_s, self.abort
                )
            return
        if self.queue:
            self.pump()
        self.flush()

    # --- one PDU -------------------------------------------------------------------------------

    def handle(self, pdu: bytes) -> bool:
        """One PDU from the ESME; False when the connection is to end."""
        _, command_id, status, sequence = HEADER.unpack_from(pdu)
        simulator = self.simulator
        if command_id == SUBMIT_SM:
            if self.system_id is None:
                self.out.append(message_id_resp(SUBMIT_SM, sequence, ESME_RINVBNDSTS))
            else:
                simulator._submit(self, pdu, answer=True)
        elif command_id & RESPONSE:
            entry = self.pending.pop(sequence, None)
            if entry is not None:
                simulator._answered(entry[0], status)
            if command_id == UNBIND | RESPONSE:
                return False
        elif command_id == BIND_TRANSCEIVER:
            simulator._bind(self, sequence, pdu)
        elif command_id in (BIND_TRANSMITTER, BIND_RECEIVER):
            # This SMSC offers transceiver sessions only (receipts and submits on one link).
            self.out.append(bind_resp(command_id, sequence, ESME_RBINDFAIL, SMSC_ID))
        elif command_id == ENQUIRE_LINK:
            self.enquire_links += 1
            simulator.enquire_links += 1
            if simulator.answer_enquire_link:
                self.out.append(encode(ENQUIRE_LINK | RESPONSE, sequence))
        elif command_id == UNBIND:
            self.out.append(encode(UNBIND | RESPONSE, sequence))
            return False
        else:
            self.out.append(generic_nack(sequence, ESME_RINVCMDID))
        return True

    def drained(self, pdu: bytes) -> None:
        """Before dropping: take, unanswered, the submits that already reached us."""
        if HEADER.unpack_from(pdu)[1] == SUBMIT_SM and self.system_id is not None:
            self.simulator._submit(self, pdu, answer=False)

    def framing_error(self) -> None:
        if self.draining:
            self.abort()
            return
        self.out.append(generic_nack(0, ESME_RINVCMDLEN))
        self.end()

    # --- receipts ------------------------------------------------------------------------------

    def pump(self) -> None:
        """Send the queued receipts the window has room for (into `out`)."""
        queue, pending, simulator = self.queue, self.pending, self.simulator
        deadline = simulator._loop.time() + RECEIPT_TIMEOUT_S
        while queue and len(pending) < self.window:
            receipt = queue.popleft()
            sequence = next(self.sequences)
            receipt.attempts += 1
            pdu = simulator._receipt_pdu(receipt, sequence)  # encoded before it is pending
            pending[sequence] = (receipt, deadline)
            self.out.append(pdu)
        if pending and self.expiry is None:
            self.expiry = simulator._loop.call_at(deadline, self.expire)

    def expire(self) -> None:
        """deliver_sm unanswered for RECEIPT_TIMEOUT_S are offered again."""
        self.expiry = None
        loop = self.simulator._loop
        now = loop.time()
        expired = []
        for sequence, (_, deadline) in self.pending.items():
            if deadline > now:
                self.expiry = loop.call_at(deadline, self.expire)
                break
            expired.append(sequence)
        self.simulator._offer_all([self.pending.pop(sequence)[0] for sequence in expired])
        if not self.closed:
            self.pump()
            self.flush()

    # --- writing and ending --------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        self.out.append(data)
        self.flush()

    def flush(self) -> None:
        out = self.out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def end(self) -> None:
        """Close after writing what is due (an unbind, a broken stream)."""
        self.flush()
        self.simulator._offer_all(self.leave(abort=False))

    def abort(self) -> None:
        """Drop the connection at once, as a network cut would."""
        self.simulator._offer_all(self.leave(abort=True))

    def leave(self, *, abort: bool) -> list[_Receipt]:
        """Detach and close (at once when `abort`); the receipts to offer again."""
        receipts = self.detach()
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()
        return receipts

    def detach(self) -> list[_Receipt]:
        """Leave the simulator's links; the receipts this link held, to be offered again."""
        if self.closed:
            return []
        self.closed = True
        simulator = self.simulator
        simulator._esmes.discard(self)
        if self.system_id is not None:
            bound = simulator._bound.get(self.system_id)
            if bound is not None and self in bound:
                bound.remove(self)
        for timer in (self.quiet, self.expiry):
            if timer is not None:
                timer.cancel()
        self.quiet = self.expiry = None
        receipts = [receipt for receipt, _ in self.pending.values()]
        receipts.extend(self.queue)
        self.pending.clear()
        self.queue.clear()
        self.out.clear()
        return receipts


def _normal_phone(raw: str) -> str:
    return f"+{_NOT_DIGITS.sub('', raw)}"


_NOT_DIGITS = re.compile(r"[^0-9]")


def _smpp_date(ms: int) -> str:
    """`YYMMDDhhmm` of a time in ms (UTC)."""
    return _smpp_minute(ms // 60_000)


@functools.lru_cache(maxsize=64)
def _smpp_minute(minute: int) -> str:  # the finest the format shows: remembered per minute
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%y%m%d%H%M")


class SmscSimulator:
    """All the SMSC's state, and the SMPP server in front of it.

    Per message it stays cheap: PDUs are read and answered in batches (`_Esme`), message
    ids come from `ids.random_hex`'s pool of OS randomness, receipts wait for their time in
    one FIFO per delay with one loop timer each (no task per submit or per receipt), and
    the receipt's dates are formatted once per minute.
    """

    _loop: asyncio.AbstractEventLoop  # the loop `start` runs the server on

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
        self._bound: dict[str, list[_Esme]] = {}  # system_id -> its bound links
        self._held: deque[_Receipt] = deque()  # due, for an account with no bound link
        # Receipts waiting for their time: one FIFO (and one loop timer) per delay, so due
        # times in each are in order.
        self._due: dict[float, deque[tuple[float, _Receipt]]] = {}
        self._timers: dict[float, asyncio.TimerHandle] = {}
        self._late: set[asyncio.TimerHandle] = set()  # submit_sm_resp held (submit_delay_ms)
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
        # every link gone before any receipt is offered
        self._offer_all([r for esme in list(self._esmes) for r in esme.leave(abort=True)])

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
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(lambda: _Esme(self), host, port)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        log.info("SMSC simulator listening on %s:%s", self.host, self.port)
        return self.port

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        self.disconnect_all()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._due.clear()
        for timer in self._late:
            timer.cancel()
            self.in_flight -= 1
        self._late.clear()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        await asyncio.sleep(0)  # the aborted links' connection_lost

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
        esme.out.append(bind_resp(BIND_TRANSCEIVER, sequence, status, SMSC_ID))
        if status == ESME_ROK:
            esme.system_id = bind.system_id
            self._bound.setdefault(bind.system_id, []).append(esme)
            self.binds += 1
            self._release(bind.system_id)  # stored receipts can go now
        elif status != ESME_RALYBND:
            self.bind_failures += 1

    # --- submits -----------------------------------------------------------------------------

    def _submit(self, esme: _Esme, pdu: bytes, *, answer: bool) -> None:
        """Take (or refuse) one submit_sm; raises _Dropped when the script says so."""
        try:
            sequence, submit = decode_submit(pdu)
        except DecodeError as error:
            if answer:
                esme.out.append(message_id_resp(SUBMIT_SM, header(pdu).sequence, error.status))
            return
        address = submit.destination_addr
        if not address.isdigit():
            if answer:
                esme.out.append(message_id_resp(SUBMIT_SM, sequence, ESME_RINVDSTADR))
            return
        phone = "+" + address
        behaviour = self.scripts.get(phone)
        if behaviour.throttle or behaviour.fail:
            if answer:
                status = ESME_RTHROTTLED
                if not behaviour.throttle:
                    status = status_by_name(behaviour.fail_reason) or ESME_RSUBMITFAIL
                esme.out.append(message_id_resp(SUBMIT_SM, sequence, status))
            return
        drop = answer and behaviour.drop_connection and self._dropped.get(phone) is not behaviour
        message_id = random_hex(16)
        self._take(esme, phone, message_id, submit, behaviour, answered=answer and not drop)
        if drop:
            self._dropped[phone] = behaviour
            raise _Dropped
        if not answer:
            return
        response = message_id_resp(SUBMIT_SM, sequence, ESME_ROK, message_id)
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight
        if self.submit_delay_ms > 0:
            self._answer_later(esme, response, self.submit_delay_ms / 1000)
        else:
            esme.out.append(response)
            self.in_flight -= 1

    def _answer_later(self, esme: _Esme, response: bytes, delay_s: float) -> None:
        def answer() -> None:
            self._late.discard(timer)
            self.in_flight -= 1
            esme.write(response)

        timer = self._loop.call_later(delay_s, answer)
        self._late.add(timer)

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
        self._after(behaviour.deliver_after_ms / 1000, _Receipt(part, stat))

    def _after(self, delay_s: float, receipt: _Receipt) -> None:
        """Offer `receipt` in `delay_s` (up to EARLY_S sooner, with others due then)."""
        due = self._loop.time() + delay_s
        queue = self._due.get(delay_s)
        if queue is None:
            queue = self._due[delay_s] = deque()
        if not queue:
            self._timers[delay_s] = self._loop.call_at(due, self._fire, delay_s)
        queue.append((due, receipt))

    def _fire(self, delay_s: float) -> None:
        queue = self._due[delay_s]
        horizon = self._loop.time() + EARLY_S
        ready: list[_Receipt] = []
        while queue and queue[0][0] <= horizon:
            ready.append(queue.popleft()[1])
        if queue:
            self._timers[delay_s] = self._loop.call_at(queue[0][0], self._fire, delay_s)
        else:
            del self._timers[delay_s], self._due[delay_s]
        self._offer_all(ready)

    def _offer_all(self, receipts: Iterable[_Receipt]) -> None:
        """Give each receipt to a bound link of its account (or hold it until one binds),
        and send what their windows let go."""
        links: dict[_Esme, None] = {}
        bound = self._bound
        for receipt in receipts:
            candidates = bound.get(receipt.part.system_id)
            if not candidates:
                self._held.append(receipt)  # held until that account binds again
                continue
            esme = candidates[0] if len(candidates) == 1 else random.choice(candidates)
            esme.queue.append(receipt)
            links[esme] = None
        for esme in links:
            esme.pump()
            esme.flush()

    def _release(self, system_id: str) -> None:
        """The held receipts of an account that just bound (sent after the bind_resp)."""
        held = self._held
        if not held:
            return
        mine = [receipt for receipt in held if receipt.part.system_id == system_id]
        if not mine:
            return
        kept = [receipt for receipt in held if receipt.part.system_id != system_id]
        held.clear()
        held.extend(kept)
        self._offer_all(mine)

    def _answered(self, receipt: _Receipt, status: int) -> None:
        """The ESME's deliver_sm_resp (or generic_nack) to a receipt."""
        if status != ESME_ROK:  # refused for now (e.g. ESME_RX_T_APPN): offer it again later
            self._after(self.receipt_retry_s, receipt)
            return
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
