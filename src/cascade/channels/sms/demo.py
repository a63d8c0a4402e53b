"""`cascade up` with SMS: the SMSC simulator (SMPP on one port, its /_sim/ admin API on
the next) and the demo's SMPP account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from cascade.channels.sms.settings import SmsSettings
from cascade.channels.spec import Demo

SYSTEM_ID, PASSWORD = "cascade", "demo"
SENDER = "380500000000"


@asynccontextmanager
async def _serve(host: str, port: int, s: SmsSettings) -> AsyncIterator[Sequence[tuple[Any, int]]]:
    from cascade.simulators import smsc as simulator

    smsc = await simulator.create_server(host, port, system_id=SYSTEM_ID, password=PASSWORD)
    try:
        yield [(simulator.create_admin_app(smsc), port + 1)]
    finally:
        await smsc.aclose()


def _configure(
    s: SmsSettings, url: str, host: str, port: int, explicit: frozenset[str]
) -> SmsSettings:
    return replace(
        s,
        smpp_host=host,
        smpp_port=port,
        smpp_system_id=SYSTEM_ID,
        smpp_password=PASSWORD,
        sms_sender=SENDER,
    )


DEMO: Demo[SmsSettings] = Demo(simulator="smsc", serve=_serve, configure=_configure, ports=2)
