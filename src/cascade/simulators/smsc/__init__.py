"""The SMSC simulator: a real SMPP 3.4 server on a TCP port, scriptable per phone.

Start it in-process with `await create_server(host, port)` (the returned `SmscSimulator`
is both the server and its state), or standalone with `main` / `python -m
cascade.simulators.smsc`, which also serves the `/_sim/` admin API on a second port.

The modules, by what they hold: `server` (the simulator's state and its SMPP server),
`link` (one ESME's connection), `pdus` (framing, and each PDU read or built, with
`smpp34`), `text` (a short message's user data header and text, as a handset reads
them), `wire` (SMPP 3.4's numbers), `records` (what it took) and `admin` (the HTTP face).
"""

from cascade.simulators.smsc.admin import create_admin_app, main, serve
from cascade.simulators.smsc.records import ReceiptSent, ReceivedSms, SubmittedPart
from cascade.simulators.smsc.server import (
    DEFAULT_PASSWORD,
    DEFAULT_SYSTEM_ID,
    SmscSimulator,
    create_server,
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
