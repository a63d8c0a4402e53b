"""What one bus payload holds: an event for an audience, or a dismissal.

- An event: its audience as a JSON array (`[account, organization, operator]`, then the
  connection excepted, if any), a newline, and the SignalR frame to send.
- A dismissal: a JSON object `{"dismiss": {...}}` (the `Dismissal`'s fields) and a
  newline, nothing after. A process running code from before dismissals decodes the
  head as an audience array, fails, logs "an event with no audience was dropped" and
  goes on: an object is never mistaken for an event.

Every process parses what any other published, so a payload that is neither is dropped
with a warning rather than raised.
"""

from __future__ import annotations

import logging

import msgspec

from cascade.api.chathub.hub.types import Audience, Dismissal

log = logging.getLogger(__name__)

_encode = msgspec.json.encode
_audience = msgspec.json.Decoder(list[str | None])


class _Control(msgspec.Struct, frozen=True):
    dismiss: Dismissal


_control = msgspec.json.Decoder(_Control)


def event(frame: bytes, audience: Audience) -> bytes:
    who = [audience.account_id, audience.organization_id, audience.operator_id]
    if audience.except_connection is not None:
        who.append(audience.except_connection)
    return _encode(who) + b"\n" + frame


def dismissal(dismissed: Dismissal) -> bytes:
    return _encode(_Control(dismissed)) + b"\n"


def read(payload: bytes) -> tuple[Audience, str] | Dismissal | None:
    """An event's audience and frame, or a dismissal; None (logged) for anything else."""
    head, _, frame = payload.partition(b"\n")
    if head.startswith(b"{"):
        try:
            return _control.decode(head).dismiss
        except msgspec.DecodeError:
            log.warning("chathub: a bus notice that is no dismissal was dropped")
            return None
    try:
        who = _audience.decode(head)
    except msgspec.DecodeError:
        who = []
    if len(who) not in (3, 4) or not isinstance(who[0], str):
        log.warning("chathub: an event with no audience was dropped")
        return None
    return Audience(who[0], *who[1:]), frame.decode()
