"""One ESME's TCP connection to the SMSC simulator: its PDUs read and answered, and the
deliver_sm it is given (delivery receipts, and messages from phones) sent within its
window."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from cascade.simulators.smsc.pdus import HEADER, Frames, build, generic_nack, submit_sm_resp
from cascade.simulators.smsc.records import Piece, SubmittedPart
from cascade.simulators.smsc.wire import (
    CMD_BIND_RECEIVER,
    CMD_BIND_TRANSCEIVER,
    CMD_BIND_TRANSMITTER,
    CMD_ENQUIRE_LINK,
    CMD_SUBMIT_SM,
    CMD_UNBIND,
    RESPONSE,
    Status,
)

if TYPE_CHECKING:
    from cascade.simulators.smsc.server import SmscSimulator

RECEIPT_TIMEOUT_S = 10.0  # a deliver_sm unanswered this long is offered again


@dataclass(slots=True, eq=False)
class Receipt:
    """A delivery receipt on its way to the ESME that submitted the part."""

    part: SubmittedPart
    stat: str
    attempts: int = 0

    @property
    def system_id(self) -> str:
        return self.part.system_id


Offered = Receipt | Piece  # what goes to an ESME as a deliver_sm


class Dropped(Exception):
    """The script says: drop this connection before answering."""


class EsmeLink(asyncio.Protocol):
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
        "frames",
        "out",
        "pending",
        "queue",
        "quiet",
        "sequences",
        "simulator",
        "system_id",
        "transport",
        "window",
    )

    def __init__(self, simulator: SmscSimulator) -> None:
        self.simulator = simulator
        self.window = simulator.receipt_window  # receipts awaiting their deliver_sm_resp
        self.transport: asyncio.Transport | None = None
        self.system_id: str | None = None  # set once bound
        self.frames = Frames()
        self.out: list[bytes] = []  # what this read (or timer) calls for, written once
        self.queue: deque[Offered] = deque()  # given to this link, waiting for a slot
        self.pending: dict[int, tuple[Offered, float]] = {}  # sequence -> (item, deadline)
        self.sequences = itertools.count(1)
        self.enquire_links = 0
        self.closed = False  # ended (or ending): reads nothing more, takes no receipts
        self.draining = False  # dropping: takes, unanswered, the submits already sent
        self.quiet: asyncio.TimerHandle | None = None  # ends the drain
        self.expiry: asyncio.TimerHandle | None = None  # times out the oldest pending

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.simulator.link_opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.simulator.offer(self.detach())

    def eof_received(self) -> bool:
        self.simulator.offer(self.detach())
        return False  # the transport closes itself

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        pdus, broken = self.frames.cut(data)
        for pdu in pdus:
            if self.draining:
                self.drained(pdu)
                continue
            try:
                if not self.handle(pdu):
                    self.end()
                    return
            except Dropped:
                self.flush()  # what was answered before the dropping submit still goes
                self.draining = True
        if broken:
            self.framing_error()
            return
        if self.draining:
            if pdus:  # wait for more submits until the socket is quiet, then drop
                if self.quiet is not None:
                    self.quiet.cancel()
                self.quiet = self.simulator.loop.call_later(
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
        if command_id == CMD_SUBMIT_SM:
            if self.system_id is None:
                self.out.append(submit_sm_resp(sequence, Status.ESME_RINVBNDSTS))
            else:
                simulator.take_submit(self, pdu, answer=True)
        elif command_id & RESPONSE:
            entry = self.pending.pop(sequence, None)
            if entry is not None:
                simulator.deliver_answered(entry[0], status)
            if command_id == CMD_UNBIND | RESPONSE:
                return False
        elif command_id in (CMD_BIND_TRANSCEIVER, CMD_BIND_TRANSMITTER, CMD_BIND_RECEIVER):
            simulator.bind(self, command_id, sequence, pdu)
        elif command_id == CMD_ENQUIRE_LINK:
            self.enquire_links += 1
            simulator.enquire_links += 1
            if simulator.answer_enquire_link:
                self.out.append(build(CMD_ENQUIRE_LINK | RESPONSE, sequence))
        elif command_id == CMD_UNBIND:
            self.out.append(build(CMD_UNBIND | RESPONSE, sequence))
            return False
        else:
            self.out.append(generic_nack(sequence, Status.ESME_RINVCMDID))
        return True

    def drained(self, pdu: bytes) -> None:
        """Before dropping: take, unanswered, the submits that already reached us."""
        if HEADER.unpack_from(pdu)[1] == CMD_SUBMIT_SM and self.system_id is not None:
            self.simulator.take_submit(self, pdu, answer=False)

    def framing_error(self) -> None:
        if self.draining:
            self.abort()
            return
        self.out.append(generic_nack(0, Status.ESME_RINVCMDLEN))
        self.end()

    # --- receipts ------------------------------------------------------------------------------

    def pump(self) -> None:
        """Send the queued receipts the window has room for (into `out`)."""
        queue, pending, simulator = self.queue, self.pending, self.simulator
        deadline = simulator.loop.time() + RECEIPT_TIMEOUT_S
        while queue and len(pending) < self.window:
            receipt = queue.popleft()
            sequence = next(self.sequences)
            receipt.attempts += 1
            pdu = simulator.deliver_pdu(receipt, sequence)  # built before it is pending
            pending[sequence] = (receipt, deadline)
            self.out.append(pdu)
        if pending and self.expiry is None:
            self.expiry = simulator.loop.call_at(deadline, self.expire)

    def expire(self) -> None:
        """deliver_sm unanswered for RECEIPT_TIMEOUT_S are offered again."""
        self.expiry = None
        loop = self.simulator.loop
        now = loop.time()
        expired = []
        for sequence, (_, deadline) in self.pending.items():
            if deadline > now:
                self.expiry = loop.call_at(deadline, self.expire)
                break
            expired.append(sequence)
        self.simulator.offer([self.pending.pop(sequence)[0] for sequence in expired])
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
        self.simulator.offer(self.leave(abort=False))

    def abort(self) -> None:
        """Drop the connection at once, as a network cut would."""
        self.simulator.offer(self.leave(abort=True))

    def leave(self, *, abort: bool) -> list[Offered]:
        """Detach and close (at once when `abort`); the receipts to offer again."""
        receipts = self.detach()
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()
        return receipts

    def detach(self) -> list[Offered]:
        """Leave the simulator's links; the receipts this link held, to be offered again."""
        if self.closed:
            return []
        self.closed = True
        self.simulator.link_closed(self)
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
