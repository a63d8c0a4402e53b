"""The ESME: one SMPP 3.4 transceiver session to an SMSC, kept up for the channel's life.

- **Bind.** `bind_transceiver` with the configured system_id, password and system_type.
  A rejected bind is remembered (`last_bind_status`), so a send can tell a wrong
  password (the operator must act) from an SMSC that is merely down.
- **Window.** At most `window` `submit_sm` wait for their `submit_sm_resp` at once;
  responses are matched to requests by sequence number, in any order.
- **Keep-alive.** `enquire_link` every `enquire_interval_s`; one left unanswered for
  `response_timeout_s` means the link is dead, and it is dropped.
- **Reconnect.** Whenever the link ends (dropped, reset, `unbind` from the SMSC, a dead
  keep-alive) the session connects and binds again, after an exponential backoff with
  jitter that a successful bind resets.
- **Nothing is ever resubmitted.** A submit written to a link that then ended without
  its response is `Lost`: the SMSC may have taken it, so the caller reports it in doubt
  rather than risk a second delivery. Only a submit that never left is `NotSent`.
- **Receipts and messages from phones.** Every `deliver_sm` is answered with a
  `deliver_sm_resp`: `ESME_ROK` once its receipt (or the mobile-originated message it
  carries: a person writing to the sender, a piece of it when concatenated) has been
  handed on, `ESME_RX_T_APPN` when handing on failed (so the SMSC delivers it again
  later), or the decoding error's status. What arrives together is handed on together,
  and answered in one write. Receipts are matched to their message later, by id, so one
  for a message sent on an earlier link (or by another process) is reported like any
  other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import msgspec

from cascade.channels.sms import encoding
from cascade.channels.sms.pdu import (
    ALERT_NOTIFICATION,
    BIND_TRANSCEIVER,
    DELIVER_SM,
    ENQUIRE_LINK,
    ESM_DEFAULT,
    ESM_INTERMEDIATE,
    ESM_SMSC_RECEIPT,
    ESM_TYPE_MASK,
    ESME_RBINDFAIL,
    ESME_RINVCMDID,
    ESME_RINVCMDLEN,
    ESME_RINVPASWD,
    ESME_RINVSYSID,
    ESME_RINVSYSTYP,
    ESME_ROK,
    ESME_RX_T_APPN,
    GENERIC_NACK,
    MESSAGE_STATES,
    RESPONSE,
    TLV_MESSAGE_PAYLOAD,
    TLV_MESSAGE_STATE,
    TLV_RECEIPTED_MESSAGE_ID,
    TLV_SAR_MSG_REF_NUM,
    TLV_SAR_SEGMENT_SEQNUM,
    TLV_SAR_TOTAL_SEGMENTS,
    UNBIND,
    Bind,
    DecodeError,
    Deliver,
    FramingError,
    Header,
    Submit,
    body_of,
    decode_deliver,
    encode,
    generic_nack,
    header,
    message_id_resp,
    read_c_string,
    read_pdu,
    status_name,
)
from cascade.domain.events import MessagePart
from cascade.domain.lifecycle import Reason

log = logging.getLogger(__name__)

# Bind statuses that no amount of reconnecting fixes: the credentials are wrong.
CREDENTIAL_ERRORS = frozenset({ESME_RINVPASWD, ESME_RINVSYSID, ESME_RINVSYSTYP})
_MAX_SEQUENCE = 0x7FFFFFFF

# --- what a submit can come to ------------------------------------------------------------------


class Accepted(msgspec.Struct, frozen=True):
    """submit_sm_resp ESME_ROK: the SMSC took the message under this id."""

    message_id: str


class Rejected(msgspec.Struct, frozen=True):
    """The SMSC answered with an error status (submit_sm_resp or generic_nack)."""

    status: int

    @property
    def name(self) -> str:
        return status_name(self.status)


class NotSent(msgspec.Struct, frozen=True):
    """The submit never left this process (no bound link): repeating it is safe."""

    reason: str


class Lost(msgspec.Struct, frozen=True):
    """The submit was written but no answer came (link lost, response timeout)."""

    reason: str


SubmitResult = Accepted | Rejected | NotSent | Lost

# --- receipts ----------------------------------------------------------------------------------


class Receipt(msgspec.Struct, frozen=True):
    """What a delivery receipt (`deliver_sm` with esm_class 0x04) says about one message."""

    message_id: str  # the id the SMSC gave the submit (receipted_message_id, or "id:")
    stat: str  # DELIVRD, UNDELIV, EXPIRED, ... (from message_state, or "stat:")
    final: bool  # a final state, not ENROUTE/ACCEPTD or an intermediate notification
    error: str | None  # the receipt's "err:" code, when not zero
    recipient: str  # the receipt's source_addr: the number the message went to
    text: str  # the receipt's "text:" field: the message's first characters

    @property
    def delivered(self) -> bool:
        return self.stat == "DELIVRD"


_RECEIPT_FIELD = re.compile(r"(?i)\b(id|stat|err):(\S*)")
_RECEIPT_TEXT = re.compile(r"(?is)\btext:(.*)\Z")
_TEXT_MARK = re.compile(r"(?i)\btext:")
# `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…` with no ":" in a
# value: what the general reading above finds, in one match
_CANONICAL_RECEIPT = re.compile(
    r"(?is)id:([^\s:]*) sub:[^\s:]* dlvrd:[^\s:]* submit date:[^\s:]* done date:[^\s:]* "
    r"stat:([^\s:]*) err:([^\s:]*) text:(.*)\Z"
)
_STAT_SYNONYMS = {
    "DELIVERED": "DELIVRD",
    "UNDELIVERABLE": "UNDELIV",
    "REJECTED": "REJECTD",
    "ACCEPTED": "ACCEPTD",
}
_NOT_FINAL = frozenset({"ENROUTE", "ACCEPTD"})


def parse_receipt(deliver: Deliver) -> Receipt | None:
    """The receipt a deliver_sm carries, or None (a mobile-originated message, or a receipt
    naming no message). TLVs win over the text, which not every SMSC fills in."""
    kind = deliver.esm_class & ESM_TYPE_MASK
    if kind not in (ESM_SMSC_RECEIPT, ESM_INTERMEDIATE):
        return None
    payload = deliver.short_message
    if deliver.esm_class & encoding.UDHI:
        try:
            _, payload = encoding.parse_udh(payload)
        except ValueError:
            payload = b""
    text = encoding.decode(payload, deliver.data_coding)
    text_id, word, err, receipt_text = receipt_fields(text)
    raw_id = deliver.tlvs.get(TLV_RECEIPTED_MESSAGE_ID)
    message_id = read_c_string(raw_id)[0] if raw_id else text_id
    if not message_id:
        return None
    raw_state = deliver.tlvs.get(TLV_MESSAGE_STATE)
    if raw_state:
        stat = MESSAGE_STATES.get(int.from_bytes(raw_state, "big"), "UNKNOWN")
    else:
        word = word.upper()
        stat = _STAT_SYNONYMS.get(word, word) or "UNKNOWN"
    return Receipt(
        message_id=message_id,
        stat=stat,
        final=kind == ESM_SMSC_RECEIPT and stat not in _NOT_FINAL,
        error=err if err and err.strip("0") else None,
        recipient=deliver.source_addr,
        text=receipt_text,
    )


def receipt_fields(text: str) -> tuple[str, str, str | None, str]:
    """A receipt text's `id:`, `stat:`, `err:` (None when absent) and `text:` fields."""
    canonical = _CANONICAL_RECEIPT.match(text)
    if canonical is not None:  # the customary layout, read in one match
        text_id, word, err, receipt_text = canonical.groups()
        return text_id, word, err, receipt_text
    return general_receipt_fields(text)


def general_receipt_fields(text: str) -> tuple[str, str, str | None, str]:
    """The fields in any order and case; the first of each kind before `text:` counts."""
    head = _TEXT_MARK.split(text, maxsplit=1)[0]  # fields never come from the message text
    fields: dict[str, str] = {}
    for key, value in _RECEIPT_FIELD.findall(head):
        fields.setdefault(key.lower(), value)
    found = _RECEIPT_TEXT.search(text)
    return (
        fields.get("id", ""),
        fields.get("stat", ""),
        fields.get("err"),
        found.group(1) if found else "",
    )


# --- messages from phones ------------------------------------------------------------------------


class MobileOriginated(msgspec.Struct, frozen=True):
    """A message a person sent to one of our addresses (`deliver_sm`, esm_class type 0),
    or one piece of it when concatenated."""

    source: str  # the phone, as the SMSC gives its address
    destination: str  # the address written to: our number (or name)
    text: str
    part: MessagePart | None  # which piece, for a concatenated message


def parse_mobile_originated(deliver: Deliver) -> MobileOriginated | None:
    """The message a deliver_sm carries from a phone, or None (a receipt, an SME ack).

    The text is `short_message`, or the `message_payload` TLV when that is empty, read per
    `data_coding` (GSM-7, UCS-2, Latin-1/IA5). Which piece of a concatenated message it
    is comes from the user data header (8- or 16-bit reference) when `esm_class` has
    UDHI, else from the SAR TLVs; a piece numbered outside 1..total is read as whole."""
    if deliver.esm_class & ESM_TYPE_MASK != ESM_DEFAULT:
        return None
    payload = deliver.short_message or deliver.tlvs.get(TLV_MESSAGE_PAYLOAD, b"")
    part: MessagePart | None = None
    if deliver.esm_class & encoding.UDHI:
        try:
            found, payload = encoding.parse_udh(payload)
        except ValueError:
            found = None  # a broken header: the text is all there is
        if found is not None:
            part = MessagePart(found.reference, found.total, found.sequence)
    else:
        reference = deliver.tlvs.get(TLV_SAR_MSG_REF_NUM)
        total = deliver.tlvs.get(TLV_SAR_TOTAL_SEGMENTS)
        number = deliver.tlvs.get(TLV_SAR_SEGMENT_SEQNUM)
        if reference and total and number:
            part = MessagePart(
                int.from_bytes(reference, "big"),
                int.from_bytes(total, "big"),
                int.from_bytes(number, "big"),
            )
    if part is not None and not 1 <= part.number <= part.total:
        part = None
    return MobileOriginated(
        source=deliver.source_addr,
        destination=deliver.destination_addr,
        text=encoding.decode(payload, deliver.data_coding),
        part=part if part is not None and part.total > 1 else None,
    )


Delivered = Receipt | MobileOriginated
DeliverHandler = Callable[[Sequence[Delivered]], Awaitable[None]]

# --- the session -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionConfig:
    host: str
    port: int
    system_id: str
    password: str  # never logged
    system_type: str = ""
    window: int = 10
    enquire_interval_s: float = 30.0
    response_timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError("the window holds at least one submit")
        Bind(self.system_id, self.password, self.system_type).encode(1)  # fits the fields?

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"SessionConfig({self.system_id}@{self.host}:{self.port})"


class _BindRejected(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status_name(status))
        self.status = status


class _LinkLost(Exception):
    pass


class _Link:
    """One TCP connection: its writer and the requests waiting for their responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[bytes]] = {}
        self.closed = asyncio.Event()
        self.delivered: list[tuple[int, Delivered]] = []  # read, to be handed on together
        self._outgoing: list[bytes] = []  # written in this turn of the loop, sent at its end

    def expect(self, sequence: int) -> asyncio.Future[bytes]:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[sequence] = future
        return future

    def answer(self, sequence: int, pdu: bytes) -> bool:
        future = self.pending.pop(sequence, None)
        if future is None or future.done():
            return False
        future.set_result(pdu)
        return True

    def write(self, data: bytes) -> bool:
        """Queue `data` on the socket; False when the link is already known to be gone.

        PDUs written in the same turn of the event loop (the submits a group commit of
        intents lets go at once) go to the transport as one write, in order, when the
        turn ends. A `drain()` right after `write` therefore holds back only later
        writes, not this one."""
        if self.closed.is_set() or self.writer.is_closing():
            return False
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outgoing.append(data)
        return True

    def _flush(self) -> None:
        data, self._outgoing = b"".join(self._outgoing), []
        if data and not self.writer.is_closing():
            self.writer.write(data)

    def end(self, *, abort: bool = False) -> None:
        """Mark the link gone and fail every request still waiting on it."""
        if not self.closed.is_set():
            self.closed.set()
            if abort:
                self._outgoing.clear()
                self.writer.transport.abort()
            else:
                self._flush()
                self.writer.close()
        for future in self.pending.values():
            if not future.done():
                future.set_exception(_LinkLost())
                future.exception()  # retrieved here, so an abandoned one logs nothing
        self.pending.clear()


def _time_out(answer: asyncio.Future[bytes]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError())


class SmppSession:
    """A transceiver session that rebinds by itself; `submit` reports what became of a PDU."""

    def __init__(self, config: SessionConfig, on_delivered: DeliverHandler | None = None) -> None:
        self.config = config
        self.on_delivered = on_delivered
        self.last_bind_status: int | None = None  # None: no bind answered yet
        self.binds = 0  # successful binds so far
        self._window = asyncio.Semaphore(config.window)
        self.in_flight = 0  # submits holding a window slot (the metrics read it)
        self._bound = asyncio.Event()
        self._changed = asyncio.Event()  # set (and replaced) after every connection attempt
        self._link: _Link | None = None
        self._sequence = 0
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def bound(self) -> bool:
        return self._bound.is_set()

    @property
    def credentials_rejected(self) -> bool:
        return self.last_bind_status in CREDENTIAL_ERRORS

    async def start(self) -> None:
        if self._task is None and not self._closing:
            self._task = asyncio.create_task(self._run(), name="smpp-session")

    async def wait_bound(self, within_s: float) -> bool:
        """Whether the session is bound, waiting up to `within_s` (not when the SMSC has
        already refused these credentials: that will not change by waiting)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while not self._bound.is_set():
            remaining = deadline - loop.time()
            if self._closing or self.credentials_rejected or remaining <= 0:
                return False
            changed = self._changed
            waiters = [
                asyncio.ensure_future(self._bound.wait()),
                asyncio.ensure_future(changed.wait()),
            ]
            try:
                await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        return True

    async def aclose(self) -> None:
        """Unbind politely (briefly), close the socket and stop reconnecting."""
        self._closing = True
        link = self._link
        if link is not None and not link.closed.is_set():
            sequence = self._next_sequence()
            answer = link.expect(sequence)
            if link.write(encode(UNBIND, sequence)):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(answer, min(1.0, self.config.response_timeout_s))
            link.end()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- sending -----------------------------------------------------------------------------

    async def submit(
        self,
        submit: Submit,
        *,
        bind_wait_s: float = 0.0,
        depart: Callable[[], Awaitable[bool]] | None = None,
    ) -> SubmitResult:
        """One submit_sm; waits for a window slot, and up to `bind_wait_s` for a bind.

        `depart`, if given, is awaited once the slot is held and the link is up, right
        before the PDU is written; if it answers False nothing is written (`NotSent`).
        """
        if not await self.wait_bound(bind_wait_s):
            return NotSent("NOT_BOUND")
        async with self._window:
            self.in_flight += 1
            try:
                return await self._submit_in_window(submit, depart)
            finally:
                self.in_flight -= 1

    async def _submit_in_window(
        self, submit: Submit, depart: Callable[[], Awaitable[bool]] | None
    ) -> SubmitResult:
        """The part of `submit` that holds a window slot."""
        link = self._link
        if link is None or link.closed.is_set():
            return NotSent("NOT_BOUND")
        if depart is not None:
            if not await depart():
                return NotSent(Reason.INTENT_NOT_STORED)
            link = self._link  # the link may have ended while the intent was stored
            if link is None or link.closed.is_set():
                return NotSent("NOT_BOUND")
        sequence = self._next_sequence()
        data = submit.encode(sequence)
        answer = link.expect(sequence)
        if not link.write(data):
            link.pending.pop(sequence, None)
            return NotSent("CONNECTION_CLOSED")
        # one timer per submit, not asyncio.wait_for's task and callbacks
        timer = asyncio.get_running_loop().call_later(
            self.config.response_timeout_s, _time_out, answer
        )
        try:
            await link.writer.drain()
            pdu = await answer
        except (_LinkLost, ConnectionError):
            return Lost("CONNECTION_LOST")
        except TimeoutError:
            link.pending.pop(sequence, None)
            return Lost("NO_RESPONSE")
        finally:
            timer.cancel()
        reply = header(pdu)
        if reply.command_id == GENERIC_NACK or reply.status != ESME_ROK:
            return Rejected(reply.status or ESME_RINVCMDID)
        return Accepted(read_c_string(body_of(pdu))[0])

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % _MAX_SEQUENCE + 1
        return self._sequence

    # --- the connection loop -------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.config.reconnect_initial_s
        while not self._closing:
            try:
                link = await self._connect()
            except _BindRejected as rejected:
                self.last_bind_status = rejected.status
                log.warning(
                    "SMSC %s:%s refused the bind of %r: %s",
                    self.config.host,
                    self.config.port,
                    self.config.system_id,
                    rejected,
                )
            except (OSError, TimeoutError, asyncio.IncompleteReadError, FramingError) as error:
                log.warning(
                    "SMSC %s:%s unreachable: %s",
                    self.config.host,
                    self.config.port,
                    type(error).__name__,
                )
            except Exception:  # a bug must not end reconnecting for the process's life
                log.exception("SMPP connection attempt failed")
            else:
                self.last_bind_status = ESME_ROK
                delay = self.config.reconnect_initial_s
                self._attempted()
                await self._serve(link)
                log.info("SMPP link to %s:%s ended", self.config.host, self.config.port)
            self._attempted()
            if self._closing:
                break
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.config.reconnect_max_s)

    def _attempted(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _connect(self) -> _Link:
        config = self.config
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(config.host, config.port), config.connect_timeout_s
        )
        link = _Link(reader, writer)
        try:
            sequence = self._next_sequence()
            bind = Bind(config.system_id, config.password, config.system_type)
            writer.write(bind.encode(sequence, BIND_TRANSCEIVER))
            await writer.drain()
            reply = await asyncio.wait_for(
                self._bind_reply(link, sequence), config.response_timeout_s
            )
        except BaseException:
            link.end(abort=True)
            raise
        if reply.command_id == GENERIC_NACK or reply.status != ESME_ROK:
            link.end()
            raise _BindRejected(reply.status or ESME_RBINDFAIL)
        return link

    async def _bind_reply(self, link: _Link, sequence: int) -> Header:
        while True:
            pdu = await read_pdu(link.reader)
            got = header(pdu)
            if got.sequence == sequence and got.is_response:
                return got
            if got.command_id == ENQUIRE_LINK:
                link.write(encode(ENQUIRE_LINK | RESPONSE, got.sequence))
            elif not got.is_response:
                link.write(generic_nack(got.sequence, ESME_RINVCMDID))

    async def _serve(self, link: _Link) -> None:
        self._link = link
        self.binds += 1
        self._bound.set()
        log.info(
            "SMPP transceiver bound to %s:%s as %r",
            self.config.host,
            self.config.port,
            self.config.system_id,
        )
        reader = asyncio.create_task(self._read_loop(link), name="smpp-reader")
        keeper = asyncio.create_task(self._keep_alive(link), name="smpp-enquire-link")
        try:
            await link.closed.wait()
        finally:
            self._bound.clear()
            self._link = None
            link.end()
            for task in (reader, keeper):
                task.cancel()
            await asyncio.gather(reader, keeper, return_exceptions=True)
            with contextlib.suppress(Exception):
                await link.writer.wait_closed()

    async def _read_loop(self, link: _Link) -> None:
        try:
            while True:
                self._dispatch(link, await read_pdu(link.reader))
        except FramingError as error:
            log.warning("SMSC sent a malformed PDU (%s); dropping the link", error)
            link.write(generic_nack(0, ESME_RINVCMDLEN))
            link.end()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            link.end(abort=True)
        finally:
            link.end()

    def _dispatch(self, link: _Link, pdu: bytes) -> None:
        got = header(pdu)
        if got.is_response:  # submit_sm_resp, enquire_link_resp, unbind_resp, generic_nack
            if not link.answer(got.sequence, pdu):
                log.info(
                    "SMSC answered sequence %s, which nothing waits for (status %s)",
                    got.sequence,
                    status_name(got.status),
                )
        elif got.command_id == DELIVER_SM:
            self._deliver(link, got.sequence, pdu)
        elif got.command_id == ENQUIRE_LINK:
            link.write(encode(ENQUIRE_LINK | RESPONSE, got.sequence))
        elif got.command_id == UNBIND:
            log.info("SMSC unbinds the session; reconnecting")
            link.write(encode(UNBIND | RESPONSE, got.sequence))
            link.end()
        elif got.command_id == ALERT_NOTIFICATION:
            pass  # has no response, and tells a transceiver nothing it needs
        else:
            link.write(generic_nack(got.sequence, ESME_RINVCMDID))

    def _deliver(self, link: _Link, sequence: int, pdu: bytes) -> None:
        """Answer a deliver_sm at once, or, for a final receipt or a message from a phone,
        once it is handed on.

        What was read in one go (everything the socket had) is handed on together when
        the read loop has caught up, and the responses leave in one write."""
        try:
            deliver = decode_deliver(pdu)
        except DecodeError as error:
            log.warning("undecodable deliver_sm: %s", error)
            link.write(message_id_resp(DELIVER_SM, sequence, error.status))
            return
        receipt = parse_receipt(deliver)
        found: Delivered | None
        if receipt is not None:
            found = receipt if receipt.final else None
        else:
            found = parse_mobile_originated(deliver)
        if found is None:  # not final, or an SME acknowledgement: nothing to hand on
            link.write(message_id_resp(DELIVER_SM, sequence, ESME_ROK))
            return
        if not link.delivered:
            asyncio.get_running_loop().call_soon(self._hand_on_read, link)
        link.delivered.append((sequence, found))

    def _hand_on_read(self, link: _Link) -> None:
        batch, link.delivered = link.delivered, []
        task = asyncio.create_task(self._hand_on(link, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hand_on(self, link: _Link, batch: list[tuple[int, Delivered]]) -> None:
        status = ESME_ROK
        if self.on_delivered is None:
            status = ESME_RX_T_APPN  # nobody to take them yet: the SMSC will offer them again
        else:
            try:
                await self.on_delivered([found for _, found in batch])
            except Exception:
                log.exception("recording %d deliver_sm failed", len(batch))
                status = ESME_RX_T_APPN
        for sequence, _ in batch:  # the link sends them together
            link.write(message_id_resp(DELIVER_SM, sequence, status))

    async def _keep_alive(self, link: _Link) -> None:
        while not link.closed.is_set():
            await asyncio.sleep(self.config.enquire_interval_s)
            sequence = self._next_sequence()
            answer = link.expect(sequence)
            if not link.write(encode(ENQUIRE_LINK, sequence)):
                return
            try:
                await asyncio.wait_for(answer, self.config.response_timeout_s)
            except TimeoutError:
                log.warning("SMSC did not answer enquire_link; dropping the link")
                link.end(abort=True)
                return
            except _LinkLost:
                return


__all__ = [
    "CREDENTIAL_ERRORS",
    "Accepted",
    "DeliverHandler",
    "Delivered",
    "Lost",
    "MobileOriginated",
    "NotSent",
    "Receipt",
    "Rejected",
    "SessionConfig",
    "SmppSession",
    "SubmitResult",
    "parse_mobile_originated",
    "parse_receipt",
]
