"""The SMSC simulator: a real SMPP 3.4 server on a TCP port, scriptable per phone.

Start it in-process with `await create_server(host, port)` (the returned `SmscSimulator`
is both the server and its state), or standalone with `main` / `python -m
cascade.simulators.smsc`, which also serves the `/_sim/` admin API on a second port.
"""

from cascade.simulators.smsc.server import (
    DEFAULT_PASSWORD,
    DEFAULT_SYSTEM_ID,
    ReceiptSent,
    ReceivedSms,
    SmscSimulator,
    SubmittedPart,
    create_admin_app,
    create_server,
    main,
    serve,
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
