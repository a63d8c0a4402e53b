"""The SMSC simulator run as a process of its own: the SMPP server, and a small HTTP face
over its state (never part of a real SMSC):

    PUT    /_sim/script/{phone}      a Behaviour as JSON for that phone
    DELETE /_sim/script              back to the personas
    GET    /_sim/received            every message taken, oldest first
    GET    /_sim/parts               every submit_sm taken
    GET    /_sim/receipts            every receipt an ESME acknowledged
    GET    /_sim/refused             every receipt an ESME refused for now (offered again)
    POST   /_sim/mo                  a phone writes to an address (below)
    GET    /_sim/mo_taken            every piece of such messages an ESME acknowledged
    DELETE /_sim/received            forget all five
    POST   /_sim/disconnect          drop every SMPP connection (a network cut)

POST /_sim/mo takes `{"from": phone, "to": our number or name, "text": …}` and, optionally,
`"coding"` (`gsm7`, `latin1`, `ucs2`; default GSM-7 when the text allows it, else UCS-2),
`"concatenation"` (`udh8`, `udh16`, `sar`; default `udh8`) and `"pieces"` (the piece
numbers to send, in that order); it answers the reference and the pieces sent, or 400.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec

import msgspec
from litestar import Litestar, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.params import JSONBody

from cascade import loop
from cascade.simulators.control import any_form_routes
from cascade.simulators.phones import is_e164, normal_phone
from cascade.simulators.smsc.handset import Coding, Concatenation
from cascade.simulators.smsc.server import (
    DEFAULT_PASSWORD,
    DEFAULT_SYSTEM_ID,
    RECEIPT_WINDOW,
    SmscSimulator,
    create_server,
)

P = ParamSpec("P")


class PhoneWrites(msgspec.Struct, frozen=True, rename={"phone": "from"}):
    """What POST /_sim/mo takes: a phone writing to one of our addresses."""

    phone: str
    to: str
    text: str
    coding: Coding | None = None
    concatenation: Concatenation = "udh8"
    pieces: list[int] | None = None


def create_admin_app(simulator: SmscSimulator) -> Litestar:
    """The `/_sim/` admin API over `simulator` (its state is `app.state.simulator`)."""

    @post("/_sim/disconnect", status_code=204)
    async def disconnect() -> None:
        simulator.disconnect_all()

    @post("/_sim/mo", status_code=200)
    async def phone_writes(data: JSONBody[PhoneWrites]) -> dict[str, object]:
        if not is_e164(normal_phone(data.phone)) or not data.to.strip() or not data.text:
            raise HTTPException(status_code=400, detail="from (E.164), to and text are needed")
        try:
            written = simulator.send_mo(
                data.phone,
                data.to.strip(),
                data.text,
                coding=data.coding,
                concatenation=data.concatenation,
                pieces=data.pieces,
            )
        except ValueError as error:
            raise HTTPException(status_code=400, detail=str(error)) from None
        return {
            "reference": written.reference,
            "coding": written.coding,
            "total": len(written.cuts),
            "pieces": data.pieces or [cut.number for cut in written.cuts],
        }

    return Litestar(
        logging_config=None,  # the process's own logging stands (`cascade up`: text or JSON)
        route_handlers=[
            *any_form_routes(
                set_script=simulator.script,
                reset=simulator.reset,
                forget=simulator.clear_received,
                logs={
                    "received": simulator.received,
                    "parts": simulator.parts,
                    "receipts": simulator.receipts,
                    "refused": simulator.refused,
                    "mo_taken": simulator.mo_taken,
                },
            ),
            disconnect,
            phone_writes,
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


def _standalone(
    serving: Callable[P, Coroutine[Any, Any, None]],
) -> Callable[P, None]:
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        loop.run(serving(*args, **kwargs))

    run.__doc__ = "Run the simulator standalone (`python -m cascade.simulators.smsc`): `serve`."
    return run


main = _standalone(serve)


__all__ = ["create_admin_app", "main", "serve"]
