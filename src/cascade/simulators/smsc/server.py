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

A phone can also write to an address (`send_mo`, or POST `/_sim/mo`): its message goes
to a bound transceiver of the account as `deliver_sm` of esm_class type 0 — cut into
pieces with an 8- or 16-bit reference UDH or the SAR parameters when it does not fit one
(`handset`), the pieces in the order asked (some left out, to play a piece lost) — and,
like a receipt, is offered again until the ESME answers `ESME_ROK` (`mo_taken`).

Everything taken is recorded (`records`): `parts` (one per submit_sm, its text read as a
handset reads it, `text`) and `received` (one per message, concatenated parts put back
together by their UDH reference), so tests count real deliveries; so is every receipt an
ESME took (`receipts`) or refused for now (`refused`). `receipts_owed` says which receipts
are still to go (due, held for an account with no bound link, or sent and unanswered):
one not there will never be sent. The state object is the
API for in-process use; `admin` is a small HTTP face for a simulator run as a separate
process.

The PDUs are read and built by the simulator's own code and the third-party `smpp34`
library (`pdus`), never by the product's SMPP client (see ../README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime

import smpp34

from cascade.clock import Clock, SystemClock
from cascade.ids import random_hex
from cascade.simulators.phones import normal_phone
from cascade.simulators.script import Behaviour, Scripts
from cascade.simulators.smsc import handset
from cascade.simulators.smsc.link import Dropped, EsmeLink, Offered, Receipt
from cascade.simulators.smsc.pdus import (
    HEADER,
    Refused,
    bind_resp,
    build,
    delivery_receipt,
    mobile_originated,
    read_bind,
    read_submit,
    submit_sm_resp,
)
from cascade.simulators.smsc.records import (
    Piece,
    PieceTaken,
    ReceiptRefused,
    ReceiptSent,
    ReceivedSms,
    SubmittedPart,
)
from cascade.simulators.smsc.text import Part, decode, encode_default_alphabet, split_user_data
from cascade.simulators.smsc.wire import (
    CMD_BIND_TRANSCEIVER,
    CMD_UNBIND,
    CODING_DEFAULT,
    CODING_UCS2,
    ESM_UDHI,
    NPI_E164,
    NPI_UNKNOWN,
    RECEIPT_ON_FAILURE,
    RECEIPT_REQUESTED,
    TON_ALPHANUMERIC,
    TON_INTERNATIONAL,
    Status,
)

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_ID = "cascade"
DEFAULT_PASSWORD = "secret"  # noqa: S105 - the simulator's demo credential, worth nothing
SMSC_ID = "CASCADESIM"
RECEIPT_WINDOW = 10  # deliver_sm awaiting their deliver_sm_resp, per connection (default)
EARLY_S = 0.001  # a receipt may go this much before its time, with others due then
RECEIPT_TEXT_CHARS = 20  # of the message, quoted at the end of a receipt's text

# The parts of a concatenated message taken so far, by (system_id, source, phone,
# reference, total): each part with its octets after the UDH.
_Pieces = dict[int, tuple[SubmittedPart, bytes]]


def _smpp_date(ms: int) -> str:
    """`YYMMDDhhmm` of a time in ms (UTC)."""
    return _smpp_minute(ms // 60_000)


@functools.lru_cache(maxsize=64)
def _smpp_minute(minute: int) -> str:  # the finest the format shows: remembered per minute
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%y%m%d%H%M")


class SmscSimulator:
    """All the SMSC's state, and the SMPP server in front of it.

    Per message it stays cheap: PDUs are read and answered in batches (`EsmeLink`), message
    ids come from `ids.random_hex`'s pool of OS randomness, receipts wait for their time in
    one FIFO per delay with one loop timer each (no task per submit or per receipt), and
    the receipt's dates are formatted once per minute.
    """

    loop: asyncio.AbstractEventLoop  # the loop `start` runs the server on

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
        self.refused: list[ReceiptRefused] = []  # receipts an ESME refused for now
        self.mo_taken: list[PieceTaken] = []  # messages from phones an ESME acknowledged
        self.binds = 0
        self.bind_failures = 0
        self.connections = 0
        self.enquire_links = 0
        self.in_flight = 0  # submits taken and not answered yet
        self.max_in_flight = 0
        self._dropped: dict[str, Behaviour] = {}  # phone -> the script that dropped once
        self._assembling: dict[tuple[str, str, str, int, int], _Pieces] = {}
        self._links: set[EsmeLink] = set()
        self._bound: dict[str, list[EsmeLink]] = {}  # system_id -> its bound links
        self._held: deque[Offered] = deque()  # due, for an account with no bound link
        # Receipts waiting for their time: one FIFO (and one loop timer) per delay, so due
        # times in each are in order.
        self._due: dict[float, deque[tuple[float, Offered]]] = {}
        self._timers: dict[float, asyncio.TimerHandle] = {}
        self._late: set[asyncio.TimerHandle] = set()  # submit_sm_resp held (submit_delay_ms)
        self._server: asyncio.Server | None = None
        self.host = ""
        self.port = 0

    # --- admin ----------------------------------------------------------------------------

    def script(self, phone: str, behaviour: Behaviour) -> None:
        """Script a phone (a `drop_connection` script drops once again)."""
        phone = normal_phone(phone)
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
        self.refused.clear()
        self.mo_taken.clear()

    def send_mo(
        self,
        phone: str,
        to: str,
        text: str,
        *,
        coding: handset.Coding | None = None,
        concatenation: handset.Concatenation = "udh8",
        pieces: list[int] | None = None,
        reference: int | None = None,
    ) -> handset.Written:
        """`phone` writes `text` to the address `to` (our number, or a name): its pieces go
        to the account's ESME, those numbered in `pieces` in that order (all, in order, by
        default), under `reference` (the phone's choice unless given: a piece offered again
        keeps its message's). ValueError when the text does not fit the coding, or a number
        no piece."""
        phone = normal_phone(phone)
        written = handset.write(text, coding, concatenation, reference)
        by_number = {cut.number: cut for cut in written.cuts}
        wanted = pieces if pieces is not None else sorted(by_number)
        if any(number not in by_number for number in wanted):
            raise ValueError(f"the message has pieces 1..{len(by_number)}")
        numeric = to.removeprefix("+").isdigit()
        total = len(written.cuts)
        self.offer(
            Piece(
                system_id=self.system_id,
                phone=phone,
                source_addr=phone.removeprefix("+"),
                destination_addr=to.removeprefix("+") if numeric else to,
                dest_ton=TON_INTERNATIONAL if numeric else TON_ALPHANUMERIC,
                dest_npi=NPI_E164 if numeric else NPI_UNKNOWN,
                esm_class=cut.esm_class,
                data_coding=written.data_coding,
                short_message=cut.short_message,
                tlvs=cut.tlvs,
                text=decode(cut.octets, written.data_coding),
                reference=written.reference,
                total=total,
                number=cut.number,
            )
            for cut in (by_number[number] for number in wanted)
        )
        return written

    def count(self, phone: str, text: str | None = None) -> int:
        """How many whole messages to `phone` (with this text) the SMSC took."""
        phone = normal_phone(phone)
        return sum(1 for m in self.received if m.phone == phone and text in (None, m.text))

    def disconnect_all(self) -> None:
        """Drop every connection, as a network cut would."""
        # every link gone before any receipt is offered
        self.offer([r for link in list(self._links) for r in link.leave(abort=True)])

    async def unbind_all(self) -> None:
        """Ask every bound ESME to unbind (as an SMSC going down for maintenance does)."""
        for link in list(self._links):
            if link.system_id is not None:
                link.write(build(CMD_UNBIND, next(link.sequences)))

    def receipts_owed(self) -> dict[str, str]:
        """The receipts still to go, by message id: "due" (waiting for their time, or to be
        offered again), "held" (due, for an account with no bound link) or "sent" (given to
        a link, waiting for a window slot or for the deliver_sm_resp). A message not here
        gets no receipt unless it is submitted again."""
        owed: dict[str, str] = {}
        places: list[tuple[Iterable[Offered], str]] = [
            ((receipt for queue in self._due.values() for _, receipt in queue), "due"),
            (self._held, "held"),
        ]
        for link in self._links:
            places += [(link.queue, "sent"), ((r for r, _ in link.pending.values()), "sent")]
        for items, state in places:
            for item in items:
                if isinstance(item, Receipt):
                    owed[item.part.message_id] = state
        return owed

    @property
    def bound_sessions(self) -> int:
        return sum(1 for link in self._links if link.system_id is not None)

    # --- the server -------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on `host:port` (0: any free port); returns the port."""
        self.loop = asyncio.get_running_loop()
        self._server = await self.loop.create_server(lambda: EsmeLink(self), host, port)
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

    # --- what the links call ---------------------------------------------------------------

    def link_opened(self, link: EsmeLink) -> None:
        self._links.add(link)
        self.connections += 1

    def link_closed(self, link: EsmeLink) -> None:
        self._links.discard(link)
        if link.system_id is not None:
            bound = self._bound.get(link.system_id)
            if bound is not None and link in bound:
                bound.remove(link)

    def bind(self, link: EsmeLink, command_id: int, sequence: int, pdu: bytes) -> None:
        if command_id != CMD_BIND_TRANSCEIVER:
            # This SMSC offers transceiver sessions only (receipts and submits on one link).
            link.out.append(bind_resp(command_id, sequence, Status.ESME_RBINDFAIL, SMSC_ID))
            return
        try:
            bind = read_bind(pdu)
        except ValueError:
            status = Status.ESME_RBINDFAIL
        else:
            if link.system_id is not None:
                status = Status.ESME_RALYBND
            elif bind.system_id != self.system_id:
                status = Status.ESME_RINVSYSID
            elif bind.password != self.password:
                status = Status.ESME_RINVPASWD
            else:
                status = Status.ESME_ROK
        link.out.append(bind_resp(command_id, sequence, status, SMSC_ID))
        if status == Status.ESME_ROK:
            link.system_id = bind.system_id
            self._bound.setdefault(bind.system_id, []).append(link)
            self.binds += 1
            self._release(bind.system_id)  # stored receipts can go now
        elif status != Status.ESME_RALYBND:
            self.bind_failures += 1

    # --- submits -----------------------------------------------------------------------------

    def take_submit(self, link: EsmeLink, pdu: bytes, *, answer: bool) -> None:
        """Take (or refuse) one submit_sm; raises Dropped when the script says so."""
        try:
            submit = read_submit(pdu)
        except Refused as refused:
            if answer:
                link.out.append(submit_sm_resp(HEADER.unpack_from(pdu)[3], refused.status))
            return
        sequence = submit.sequence_number
        address = submit.destination_addr
        if not address.isdigit():
            if answer:
                link.out.append(submit_sm_resp(sequence, Status.ESME_RINVDSTADR))
            return
        phone = "+" + address
        behaviour = self.scripts.get(phone)
        if behaviour.throttle or behaviour.fail:
            if answer:
                status = Status.ESME_RTHROTTLED
                if not behaviour.throttle:
                    status = Status.named(behaviour.fail_reason) or Status.ESME_RSUBMITFAIL
                link.out.append(submit_sm_resp(sequence, status))
            return
        drop = answer and behaviour.drop_connection and self._dropped.get(phone) is not behaviour
        message_id = random_hex(16)
        self._take(link, phone, message_id, submit, behaviour, answered=answer and not drop)
        if drop:
            self._dropped[phone] = behaviour
            raise Dropped
        if not answer:
            return
        response = submit_sm_resp(sequence, Status.ESME_ROK, message_id)
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight
        if self.submit_delay_ms > 0:
            self._answer_later(link, response, self.submit_delay_ms / 1000)
        else:
            link.out.append(response)
            self.in_flight -= 1

    def _answer_later(self, link: EsmeLink, response: bytes, delay_s: float) -> None:
        def answer() -> None:
            self._late.discard(timer)
            self.in_flight -= 1
            link.write(response)

        timer = self.loop.call_later(delay_s, answer)
        self._late.add(timer)

    def _take(
        self,
        link: EsmeLink,
        phone: str,
        message_id: str,
        submit: smpp34.SubmitSm,
        behaviour: Behaviour,
        *,
        answered: bool,
    ) -> None:
        concatenation: Part | None = None
        octets = submit.short_message
        if submit.esm_class & ESM_UDHI:
            with contextlib.suppress(ValueError):  # a broken header: the handset shows it all
                concatenation, octets = split_user_data(octets)
        part = SubmittedPart(
            phone=phone,
            message_id=message_id,
            text=decode(octets, submit.data_coding),
            data_coding=submit.data_coding,
            esm_class=submit.esm_class,
            reference=concatenation.reference if concatenation else None,
            total=concatenation.total if concatenation else 1,
            sequence=concatenation.number if concatenation else 1,
            source_addr=submit.source_addr,
            source_ton=submit.source_addr_ton,
            source_npi=submit.source_addr_npi,
            destination_addr=submit.destination_addr,
            dest_ton=submit.dest_addr_ton,
            dest_npi=submit.dest_addr_npi,
            validity_period=submit.validity_period,
            registered_delivery=submit.registered_delivery,
            system_id=link.system_id or "",
            at_ms=self.clock.now_ms(),
            answered=answered,
        )
        self.parts.append(part)
        self._assemble(part, octets)
        self._schedule_receipt(part, behaviour)

    def _assemble(self, part: SubmittedPart, octets: bytes) -> None:
        if part.reference is None or part.total <= 1:
            self._complete([part], part.text)
            return
        key = (part.system_id, part.source_addr, part.phone, part.reference, part.total)
        pieces = self._assembling.setdefault(key, {})
        pieces[part.sequence] = (part, octets)
        if len(pieces) == part.total:
            del self._assembling[key]
            ordered = [pieces[number] for number in sorted(pieces)]
            # A handset joins the parts' user data, then reads the whole: a character cut
            # between two parts (an escape and its code, a surrogate pair) reads whole.
            coding = ordered[0][0].data_coding
            whole = decode(b"".join(octets for _, octets in ordered), coding)
            self._complete([piece for piece, _ in ordered], whole)

    def _complete(self, pieces: list[SubmittedPart], whole: str) -> None:
        first = pieces[0]
        self.received.append(
            ReceivedSms(
                phone=first.phone,
                text=whole,
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
        wanted = part.registered_delivery & RECEIPT_REQUESTED
        if wanted == 0 or (wanted == RECEIPT_ON_FAILURE and stat == "DELIVRD"):
            return  # no receipt asked for (2: failures only)
        self._after(behaviour.deliver_after_ms / 1000, Receipt(part, stat))

    def _after(self, delay_s: float, receipt: Offered) -> None:
        """Offer `receipt` in `delay_s` (up to EARLY_S sooner, with others due then)."""
        due = self.loop.time() + delay_s
        queue = self._due.get(delay_s)
        if queue is None:
            queue = self._due[delay_s] = deque()
        if not queue:
            self._timers[delay_s] = self.loop.call_at(due, self._fire, delay_s)
        queue.append((due, receipt))

    def _fire(self, delay_s: float) -> None:
        queue = self._due[delay_s]
        horizon = self.loop.time() + EARLY_S
        ready: list[Offered] = []
        while queue and queue[0][0] <= horizon:
            ready.append(queue.popleft()[1])
        if queue:
            self._timers[delay_s] = self.loop.call_at(queue[0][0], self._fire, delay_s)
        else:
            del self._timers[delay_s], self._due[delay_s]
        self.offer(ready)

    def offer(self, receipts: Iterable[Offered]) -> None:
        """Give each receipt (or piece of a phone's message) to a bound link of its
        account (or hold it until one binds), and send what their windows let go."""
        given: dict[EsmeLink, None] = {}
        bound = self._bound
        for receipt in receipts:
            candidates = bound.get(receipt.system_id)
            if not candidates:
                self._held.append(receipt)  # held until that account binds again
                continue
            link = candidates[0] if len(candidates) == 1 else random.choice(candidates)
            link.queue.append(receipt)
            given[link] = None
        for link in given:
            link.pump()
            link.flush()

    def _release(self, system_id: str) -> None:
        """The held receipts of an account that just bound (sent after the bind_resp)."""
        held = self._held
        if not held:
            return
        mine = [receipt for receipt in held if receipt.system_id == system_id]
        if not mine:
            return
        kept = [receipt for receipt in held if receipt.system_id != system_id]
        held.clear()
        held.extend(kept)
        self.offer(mine)

    def deliver_answered(self, receipt: Offered, status: int) -> None:
        """The ESME's deliver_sm_resp (or generic_nack) to a receipt or a phone's message."""
        if status != Status.ESME_ROK:  # refused for now (e.g. ESME_RX_T_APPN): offer it again later
            if isinstance(receipt, Receipt):
                self.refused.append(
                    ReceiptRefused(
                        message_id=receipt.part.message_id,
                        phone=receipt.part.phone,
                        status=status,
                        at_ms=self.clock.now_ms(),
                        attempts=receipt.attempts,
                    )
                )
            self._after(self.receipt_retry_s, receipt)
            return
        if isinstance(receipt, Piece):
            self.mo_taken.append(
                PieceTaken(
                    phone=receipt.phone,
                    to=receipt.destination_addr,
                    text=receipt.text,
                    reference=receipt.reference,
                    total=receipt.total,
                    number=receipt.number,
                    at_ms=self.clock.now_ms(),
                    attempts=receipt.attempts,
                )
            )
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

    def deliver_pdu(self, receipt: Offered, sequence: int) -> bytes:
        if isinstance(receipt, Piece):
            return mobile_originated(sequence, receipt)
        part, stat = receipt.part, receipt.stat
        delivered = stat == "DELIVRD"
        words = (
            f"id:{part.message_id} sub:001 dlvrd:{'001' if delivered else '000'} "
            f"submit date:{_smpp_date(part.at_ms)} done date:{_smpp_date(self.clock.now_ms())} "
            f"stat:{stat} err:{'000' if delivered else '001'} "
            f"text:{part.text[:RECEIPT_TEXT_CHARS]}"
        )
        octets = encode_default_alphabet(words)
        if octets is None:
            return delivery_receipt(sequence, part, stat, (CODING_UCS2, words.encode("utf-16-be")))
        return delivery_receipt(sequence, part, stat, (CODING_DEFAULT, octets))


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


__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_SYSTEM_ID",
    "RECEIPT_WINDOW",
    "SmscSimulator",
    "create_server",
]
