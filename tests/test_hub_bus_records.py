"""What one bus payload holds (cascade.api.chathub.hub.bus_records): an event for its
audience, or a dismissal, which a process running code from before dismissals drops."""

from __future__ import annotations

import msgspec
import pytest

from cascade.api.chathub.hub import Audience, Dismissal, bus_records

FRAME = b'{"type":1,"target":"ChatCreated","arguments":[{"id":1}]}\x1e'


def test_an_event_and_a_dismissal_read_back_as_they_were_written() -> None:
    audience = Audience("acc", "7", None, "conn-1")
    assert bus_records.read(bus_records.event(FRAME, audience)) == (audience, FRAME.decode())
    dismissal = Dismissal(
        "acc", "moved", allow_reconnect=True, operator_id="3", organization_id="9"
    )
    assert bus_records.read(bus_records.dismissal(dismissal)) == dismissal


def test_code_from_before_dismissals_cannot_take_one_for_an_event() -> None:
    payload = bus_records.dismissal(Dismissal("acc", "The account is suspended"))
    head, _, frame = payload.partition(b"\n")
    assert frame == b""
    with pytest.raises(msgspec.DecodeError):  # how the hub before them read every head
        msgspec.json.decode(head, type=list[str | None])


@pytest.mark.parametrize(
    "payload", [b'{"dismiss": {"error": "no account"}}\n', b'{"other": 1}\n', b"[1]\nx", b"junk"]
)
def test_a_payload_that_is_neither_is_dropped(payload: bytes) -> None:
    assert bus_records.read(payload) is None
