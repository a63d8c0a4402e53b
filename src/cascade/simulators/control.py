"""The `/_sim/` control endpoints the HTTP simulators share (never on a real service).

Each simulator adds them to its own routes with `control_routes`, over its own state:

| Method | Path | What |
|---|---|---|
| PUT | `/_sim/script/{phone}` | set the phone's `Behaviour` (JSON), echoed; 400 unless E.164 |
| DELETE | `/_sim/script` | forget every script (and whatever else the simulator resets) |
| GET | `/_sim/received` | what the simulator accepted, oldest first (`?phone=`: that phone's) |
| DELETE | `/_sim/received` | forget it, and empty every log below |
| GET | `/_sim/{log}` | each log the simulator names (`callbacks`, `calls`, `events`…) |

The Telegram simulator and the SMSC take `any_form_routes` instead: they answer a script
with 204, take a phone in any form (normalised, not refused) and list everything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any

from litestar import delete, get, put
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody

from cascade.simulators.phones import is_e164, normal_phone
from cascade.simulators.script import Behaviour


def e164(raw: str) -> str:
    """A phone number taken from a `/_sim/` path; 400 unless it is E.164."""
    if not is_e164(raw):
        raise HTTPException(status_code=400, detail="not an E.164 phone number")
    return raw


def control_routes(
    *,
    set_script: Callable[[str, Behaviour], object],
    reset: Callable[[], object],
    received: list[Any],
    phone_of: Callable[[Any], str] = attrgetter("phone"),
    logs: Mapping[str, list[Any]] | None = None,
) -> list[HTTPRouteHandler]:
    """The `/_sim/` control endpoints over one simulator's state.

    `set_script` and `reset` back PUT and DELETE `/_sim/script`. `received` is the
    simulator's own list of what it accepted (`phone_of` says whose each entry is), and
    `logs` its other records by the name each is served under; DELETE `/_sim/received`
    empties all of them in place.
    """
    records = dict(logs or {})

    @put("/_sim/script/{phone:str}")
    async def put_script(phone: FromPath[str], data: JSONBody[Behaviour]) -> Behaviour:
        set_script(e164(phone), data)
        return data

    @delete("/_sim/script")
    async def delete_scripts() -> None:
        reset()

    @get("/_sim/received")
    async def get_received(phone: FromQuery[str | None] = None) -> list[Any]:
        return [entry for entry in received if phone is None or phone_of(entry) == phone]

    @delete("/_sim/received")
    async def delete_received() -> None:
        received.clear()
        for log in records.values():
            log.clear()

    return [
        put_script,
        delete_scripts,
        get_received,
        delete_received,
        *(_log_route(name, log) for name, log in records.items()),
    ]


def any_form_routes(
    *,
    set_script: Callable[[str, Behaviour], object],
    reset: Callable[[], object],
    forget: Callable[[], object],
    logs: Mapping[str, list[Any]],
) -> list[HTTPRouteHandler]:
    """The `/_sim/` endpoints of the simulators that take a phone in any form.

    PUT `/_sim/script/{phone}` gives `set_script` the phone as "+digits" and answers 204;
    DELETE `/_sim/script` calls `reset`, DELETE `/_sim/received` calls `forget`; GET
    `/_sim/{name}` lists each of `logs` (`received` among them), oldest first.
    """

    @put("/_sim/script/{phone:str}", status_code=204)
    async def put_script(phone: FromPath[str], data: JSONBody[Behaviour]) -> None:
        set_script(normal_phone(phone), data)

    @delete("/_sim/script", status_code=204)
    async def delete_scripts() -> None:
        reset()

    @delete("/_sim/received", status_code=204)
    async def delete_received() -> None:
        forget()

    return [
        put_script,
        delete_scripts,
        delete_received,
        *(_log_route(name, log) for name, log in logs.items()),
    ]


def _log_route(name: str, log: list[Any]) -> HTTPRouteHandler:
    @get(f"/_sim/{name}")
    async def get_log() -> list[Any]:
        return list(log)

    return get_log
