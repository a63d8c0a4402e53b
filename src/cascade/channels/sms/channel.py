"""`SmsChannel`: an outbound message as SMPP `submit_sm`s, and receipts as delivery reports.

What one `send` does:

- **Addresses.** The recipient goes as an international number without `+` (TON 1,
  NPI 1). The sender is the message's `from_name` as an alphanumeric address (TON 5,
  NPI 0) when it is 1-11 printable GSM characters, else the configured numeric sender
  (TON 1, NPI 1); with neither, the channel is misconfigured.
- **Text.** GSM-7 when every character allows it, else UCS-2, cut into concatenated
  parts with an 8-bit-reference UDH (`encoding`). Parts go one after the other, so a
  message is never half-accepted because a later part overtook an earlier one.
- **Expiry and receipts.** `validity_period` is the message's remaining TTL in relative
  form; `registered_delivery` 1 asks for a receipt whatever the outcome.
- **Outcome.** `Sent` with the first part's message id, the part count and every part's
  id (a receipt names one part). `ESME_RTHROTTLED` and `ESME_RMSGQFUL` are `Throttled`
  (the channel pauses itself too: sends during the pause do not reach the SMSC). A link
  lost with a submit in flight is `InDoubt`, never resubmitted. Not bound yet is `Retry`,
  or `Misconfigured` when the SMSC refused these credentials.

Each receipt becomes a `DeliveryReport` for the part it names; the engine matches it to
the attempt through `Sent.part_ids`, whenever it arrives. A message from a phone (a
mobile-originated `deliver_sm`) becomes an `InboundMessage`, one per piece when it is
concatenated: the store joins the pieces (README.md, "Messages from phones").
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence

from cascade.channels.base import Depart, EventSink
from cascade.channels.sms import encoding
from cascade.channels.sms.pdu import (
    ESME_RINVBNDSTS,
    ESME_RINVDSTADR,
    ESME_RINVDSTNPI,
    ESME_RINVDSTTON,
    ESME_RINVSRCADR,
    ESME_RINVSRCNPI,
    ESME_RINVSRCTON,
    ESME_RMSGQFUL,
    ESME_RSYSERR,
    ESME_RTHROTTLED,
    ESME_RUNKNOWNERR,
    ESME_RX_T_APPN,
    Submit,
    status_name,
)
from cascade.channels.sms.session import (
    Accepted,
    Delivered,
    Lost,
    MobileOriginated,
    NotSent,
    Receipt,
    Rejected,
    SessionConfig,
    SmppSession,
    SubmitResult,
)
from cascade.clock import Clock, SystemClock
from cascade.domain.content import Content, ContentKind
from cascade.domain.events import DeliveryReport, Event, InboundMessage
from cascade.domain.lifecycle import Reason
from cascade.domain.sending import (
    Failed,
    InDoubt,
    Limits,
    Misconfigured,
    Outbound,
    Outcome,
    Retry,
    Sent,
    Throttled,
    Unreachable,
)

CHANNEL = "sms"

TON_INTERNATIONAL, NPI_ISDN = 1, 1
TON_ALPHANUMERIC, NPI_UNKNOWN = 5, 0
MAX_ALPHANUMERIC = 11  # characters an alphanumeric originator can show

THROTTLING = frozenset({ESME_RTHROTTLED, ESME_RMSGQFUL})
BAD_DESTINATION = frozenset({ESME_RINVDSTADR, ESME_RINVDSTTON, ESME_RINVDSTNPI})
BAD_SOURCE = frozenset({ESME_RINVSRCADR, ESME_RINVSRCTON, ESME_RINVSRCNPI})
# The SMSC could not take it now, for reasons of its own: the same submit may pass later.
TRANSIENT = frozenset({ESME_RSYSERR, ESME_RX_T_APPN, ESME_RINVBNDSTS, ESME_RUNKNOWNERR})

log = logging.getLogger(__name__)

_ALPHANUMERIC_OK = frozenset(
    char for char in encoding.GSM7_BASIC if char.isascii() and char.isprintable()
)


def source_address(from_name: str, numeric_sender: str) -> tuple[str, int, int] | None:
    """(address, TON, NPI) the message goes out from, or None when there is none."""
    name = from_name.strip()
    if 0 < len(name) <= MAX_ALPHANUMERIC and all(char in _ALPHANUMERIC_OK for char in name):
        return name, TON_ALPHANUMERIC, NPI_UNKNOWN
    digits = numeric_sender.lstrip("+")
    if digits.isdigit() and len(digits) <= 20:
        return digits, TON_INTERNATIONAL, NPI_ISDN
    return None


def destination_address(phone: str) -> str | None:
    """An E.164 number as SMPP wants it with TON 1: digits only, no '+'."""
    digits = phone.strip().removeprefix("+")
    return digits if digits.isdigit() and 1 <= len(digits) <= 20 else None


def validity_period(seconds: int) -> str:
    """Relative SMPP time `YYMMDDhhmmss000R` for a remaining TTL.

    Days stay in the DD field up to 31 (the API's TTL is at most 30 days); only a longer
    one spills into 30-day months and 365-day years, which an SMSC may read as calendar
    ones.
    """
    if seconds < 1:
        raise ValueError("a validity period is at least one second")
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    years = months = 0
    if days > 31:
        years, days = divmod(days, 365)
        months, days = divmod(days, 30)
    if years > 99:
        raise ValueError("a validity period is under a hundred years")
    return f"{years:02d}{months:02d}{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


def outcome_for_status(status: int) -> Outcome:
    """What a submit_sm_resp error status (on a message's first part) means for a cascade."""
    name = status_name(status)
    if status in BAD_DESTINATION:
        return Unreachable("INVALID_DESTINATION")
    if status in BAD_SOURCE:
        return Failed("INVALID_SOURCE_ADDRESS")
    if status in TRANSIENT:
        return Retry(name)
    return Failed(name)


def report_for(receipt: Receipt, at_ms: int) -> DeliveryReport:
    recipient = "+" + receipt.recipient.lstrip("+") if receipt.recipient else None
    prefix = receipt.text or None
    if receipt.delivered:
        return DeliveryReport(
            CHANNEL, receipt.message_id, "delivered", at_ms, None, recipient, prefix
        )
    reason = receipt.stat if receipt.error is None else f"{receipt.stat} err:{receipt.error}"
    return DeliveryReport(CHANNEL, receipt.message_id, "failed", at_ms, reason, recipient, prefix)


def phone_of(address: str) -> str:
    """An SMSC's address of a phone as E.164 (`380671112233` is `+380671112233`); an
    address that is not digits stays as it is (at most 16 characters, as stored)."""
    digits = address.strip().removeprefix("+")
    return ("+" + digits if digits.isdigit() else address.strip())[:16]


def inbound_for(message: MobileOriginated, at_ms: int) -> InboundMessage:
    return InboundMessage(
        CHANNEL,
        phone_of(message.source),
        message.destination,
        message.text,
        at_ms,
        part=message.part,
    )


def event_for(found: Delivered, at_ms: int) -> Event:
    """What a receipt or a message from a phone tells the engine."""
    if isinstance(found, Receipt):
        return report_for(found, at_ms)
    return inbound_for(found, at_ms)


def limits(
    max_parts: int = 10, per_sender_per_second: float | None = None, delivery_window_s: int = 3600
) -> Limits:
    """What the channel carries, sending at most `max_parts` segments a message."""
    return Limits(
        max_text=max_parts * encoding.CONCATENATED["gsm7"],  # GSM-7; UCS-2 holds 67/part
        per_sender_per_second=per_sender_per_second,
        per_recipient_per_second=None,
        confirms_delivery=True,
        delivery_window_s=delivery_window_s,
        carries=frozenset({ContentKind.TEXT}),  # a survey goes as numbered lines
    )


LIMITS = limits()


def parts(content: Content) -> int:
    """How many segments a step's content goes out as: its text as SMS carries it (a
    survey's options as lines, links for buttons and media), GSM-7 or UCS-2."""
    fitted = content.fit(LIMITS.carries)
    return encoding.count(fitted.text) if fitted is not None and fitted.text else 1


class SmsChannel:
    """The SMS channel over one SMPP transceiver session (a `SessionChannel`)."""

    name = CHANNEL

    def __init__(
        self,
        host: str,
        port: int,
        system_id: str,
        password: str,
        system_type: str = "",
        *,
        window: int = 10,
        numeric_sender: str = "",
        enquire_interval_s: float = 30.0,
        per_sender_per_second: float | None = None,
        delivery_window_s: int = 3600,
        max_parts: int = 10,
        throttle_pause_s: float = 1.0,
        max_throttle_pause_s: float = 30.0,
        part_retry_s: float = 30.0,
        bind_wait_s: float = 5.0,
        response_timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        reconnect_initial_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        if not 1 <= max_parts <= encoding.MAX_SEGMENTS:
            raise ValueError("max_parts is 1..255")
        self.limits = limits(max_parts, per_sender_per_second, delivery_window_s)
        self.numeric_sender = numeric_sender
        self.max_parts = max_parts
        self._clock = clock or SystemClock()
        self._throttle_pause_s = throttle_pause_s
        self._max_throttle_pause_s = max_throttle_pause_s
        self._next_pause_s = throttle_pause_s
        self._paused_until = 0.0  # clock.monotonic() before which nothing is submitted
        self._part_retry_s = part_retry_s
        self._bind_wait_s = bind_wait_s
        self._reference = random.randrange(256)
        self.session = SmppSession(
            SessionConfig(
                host=host,
                port=port,
                system_id=system_id,
                password=password,
                system_type=system_type,
                window=window,
                enquire_interval_s=enquire_interval_s,
                response_timeout_s=response_timeout_s,
                connect_timeout_s=connect_timeout_s,
                reconnect_initial_s=reconnect_initial_s,
                reconnect_max_s=reconnect_max_s,
            ),
        )  # receipts are refused (and offered again by the SMSC) until `start` gives a sink

    # --- SessionChannel ----------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        clock = self._clock

        async def hand_on(delivered: Sequence[Delivered]) -> None:
            now = clock.now_ms()
            await sink([event_for(found, now) for found in delivered])

        self.session.on_delivered = hand_on
        await self.session.start()

    async def aclose(self) -> None:
        await self.session.aclose()

    def window(self) -> tuple[int, int]:
        """`Windowed`: submits waiting for their `submit_sm_resp`, and the window's size."""
        return self.session.in_flight, self.session.config.window

    async def send(self, out: Outbound) -> Outcome:
        return await self.send_when(out, _at_once)

    async def send_when(self, out: Outbound, depart: Depart) -> Outcome:
        """Send; `depart` is awaited when the first part holds a window slot, just before
        it is written (a send queued behind a full window has not left, and says so)."""
        await self.session.start()  # a no-op once started; receipts wait for `start(sink)`
        destination = destination_address(out.address or out.phone)
        if destination is None:
            return Unreachable("INVALID_DESTINATION")
        if out.ttl_remaining_s < 1:
            return Failed("TTL_EXPIRED")
        source = source_address(out.from_name, self.numeric_sender)
        if source is None:
            return Misconfigured("NO_SMS_SENDER")
        if not out.text:
            return Failed("EMPTY_TEXT")
        segments = encoding.segment(out.text, self._new_reference())
        if segments.count > self.max_parts:
            return Failed("TEXT_TOO_LONG")
        paused = self._paused_until - self._clock.monotonic()
        if paused > 0:
            return Throttled(paused, "PAUSED")

        address, ton, npi = source
        validity = validity_period(out.ttl_remaining_s)
        submits = [
            Submit(
                source_addr=address,
                source_ton=ton,
                source_npi=npi,
                destination_addr=destination,
                dest_ton=TON_INTERNATIONAL,
                dest_npi=NPI_ISDN,
                short_message=payload,
                esm_class=segments.esm_class,
                data_coding=segments.data_coding,
                validity_period=validity,
                registered_delivery=1,
            )
            for payload in segments.payloads
        ]
        try:
            for submit in submits:
                submit.encode(1)  # refuse what cannot be encoded before any part goes
        except ValueError:
            return Failed("UNENCODABLE")
        ids: list[str] = []
        for submit in submits:
            result = await self._submit_part(
                submit, first=not ids, ttl_s=out.ttl_remaining_s, depart=depart
            )
            if isinstance(result, Accepted):
                ids.append(result.message_id)
                continue
            if ids:  # earlier parts are with the SMSC: repeating any of them duplicates it
                return InDoubt(
                    f"PARTIAL_SUBMIT: {len(ids)}/{segments.count} parts taken, "
                    f"then {_describe(result)}"
                )
            return self._first_part_outcome(result)
        self._next_pause_s = self._throttle_pause_s
        return Sent(ids[0], parts=segments.count, part_ids=tuple(ids), detail=segments.label)

    # --- internals ---------------------------------------------------------------------------

    def _new_reference(self) -> int:
        self._reference = (self._reference + 1) % 256
        return self._reference

    async def _submit_part(
        self, submit: Submit, *, first: bool, ttl_s: int, depart: Depart
    ) -> SubmitResult:
        """One part; the first departs (see send_when). A later part that is throttled
        waits and tries again (its message is already partly with the SMSC), for at most
        `part_retry_s` and the TTL."""
        if first:
            return await self.session.submit(submit, bind_wait_s=self._bind_wait_s, depart=depart)
        result = await self.session.submit(submit, bind_wait_s=self._bind_wait_s)
        deadline = self._clock.monotonic() + min(self._part_retry_s, ttl_s)
        pause = self._throttle_pause_s
        while isinstance(result, Rejected) and result.status in THROTTLING:
            if self._clock.monotonic() + pause > deadline:
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, self._max_throttle_pause_s)
            result = await self.session.submit(submit, bind_wait_s=self._bind_wait_s)
        return result

    def _first_part_outcome(self, result: SubmitResult) -> Outcome:
        if isinstance(result, NotSent):
            if result.reason == Reason.INTENT_NOT_STORED:
                return Retry(Reason.INTENT_NOT_STORED)
            if self.session.credentials_rejected:
                status = self.session.last_bind_status or 0
                return Misconfigured(f"SMPP_BIND_REJECTED: {status_name(status)}")
            return Retry(f"SMSC_NOT_BOUND: {result.reason}")
        if isinstance(result, Lost):
            return InDoubt(f"NO_SUBMIT_RESP: {result.reason}")
        if isinstance(result, Rejected):
            if result.status in THROTTLING:
                return self._throttled(result.name)
            return outcome_for_status(result.status)
        raise AssertionError(result)  # Accepted is handled by the caller

    def _throttled(self, reason: str) -> Throttled:
        pause = self._next_pause_s
        self._paused_until = max(self._paused_until, self._clock.monotonic() + pause)
        self._next_pause_s = min(pause * 2, self._max_throttle_pause_s)
        log.info("SMSC throttles (%s): pausing SMS for %.1f s", reason, pause)
        return Throttled(pause, reason)


async def _at_once() -> bool:
    return True


def _describe(result: SubmitResult) -> str:
    if isinstance(result, Rejected):
        return result.name
    if isinstance(result, (NotSent, Lost)):
        return result.reason
    return "accepted"


__all__ = [
    "CHANNEL",
    "SmsChannel",
    "destination_address",
    "event_for",
    "inbound_for",
    "outcome_for_status",
    "phone_of",
    "report_for",
    "source_address",
    "validity_period",
]
