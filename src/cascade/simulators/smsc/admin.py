"""The SMSC simulator run as a process of its own: the SMPP server, and a small HTTP face
over its state (never part of a real SMSC):

    PUT    /_sim/script/{phone}      a Behaviour as JSON for that phone
    DELETE /_sim/script              back to the personas
    GET    /_sim/received            every message taken, oldest first
    GET    /_sim/parts               every submit_sm taken
    GET    /_sim/receipts            every receipt an ESME acknowledged
    DELETE /_sim/received            forget all three
    POST   /_sim/disconnect          drop every SMPP connection (a network cut)
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec

from litestar import Litestar, post
from litestar.datastructures import State

from cascade import loop
from cascade.simulators.control import any_form_routes
from cascade.simulators.smsc.server import (
    DEFAULT_PASSWORD,
    DEFAULT_SYSTEM_ID,
    RECEIPT_WINDOW,
    SmscSimulator,
    create_server,
)

P = ParamSpec("P")


def create_admin_app(simulator: SmscSimulator) -> Litestar:
    """The `/_sim/` admin API over `simulator` (its state is `app.state.simulator`)."""

    @post("/_sim/disconnect", status_code=204)
    async def disconnect() -> None:
        simulator.disconnect_all()

    return Litestar(
        route_handlers=[
            *any_form_routes(
                set_script=simulator.script,
                reset=simulator.reset,
                forget=simulator.clear_received,
                logs={
                    "received": simulator.received,
                    "parts": simulator.parts,
                    "receipts": simulator.receipts,
                },
            ),
            disconnect,
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
