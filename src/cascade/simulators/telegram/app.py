"""The Telegram Bot API simulator's HTTP face, on a real socket.

`POST|GET /bot{token}/{method}` with parameters as JSON, a form or a query string reaches
the simulator's Bot API (`simulator`). Admin endpoints under `/_sim/` are not part of the
Bot API (`bot` is a token or a bot id):

    PUT    /_sim/script/{phone}      a Behaviour as JSON for that phone
    DELETE /_sim/script              back to the personas (scripts, user actions, buckets)
    GET    /_sim/received            every accepted message, oldest first
    DELETE /_sim/received
    GET    /_sim/users/{phone}       the simulated user's chat id and behaviour
    POST   /_sim/users/{phone}/{action}?bot=..   start | share_contact[&of=phone] | block |
                                     unblock | say&text=..[&reply_to=id] | press&text=.. |
                                     location&lat=..&lon=..
    POST   /_sim/users/{phone}/say?bot=..&kind=photo|document|voice|video[&name=..][&text=..]
                                     the user sends the request's body as that file (typed
                                     by its Content-Type), `text` its caption
    GET    /file/bot{token}/{path}   a file's bytes, at the path getFile gave (Bot API)
    POST   /_sim/bots/{bot}/revoke   the token stops working (401 Unauthorized)

Tokens are kept in memory only and never logged (`main` turns uvicorn's access log off).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar, Request, Response, get, post, route
from litestar.datastructures import State, UploadFile
from litestar.params import FromPath, FromQuery

from cascade.clock import Clock, SystemClock
from cascade.simulators.control import any_form_routes
from cascade.simulators.phones import normal_phone
from cascade.simulators.telegram.simulator import TelegramSimulator, Upload, error
from cascade.simulators.telegram.users import Json, chat_id_for

_JSON = "application/json"


def _json(status: int, body: Any) -> Response[bytes]:
    return Response(content=msgspec.json.encode(body), status_code=status, media_type=_JSON)


def _sim(state: State) -> TelegramSimulator:
    simulator: TelegramSimulator = state.simulator
    return simulator


async def _params(request: Request[Any, Any, Any]) -> Json | None:
    """Method parameters from the query string and a JSON, urlencoded or multipart body."""
    params: Json = dict(request.query_params.items())
    content_type = request.content_type[0]
    if content_type == _JSON:
        raw = await request.body()
        if raw.strip():
            try:
                decoded = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                return None
            if not isinstance(decoded, dict):
                return None
            params.update(decoded)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = value
            elif isinstance(value, UploadFile):
                data = await value.read()
                params[key] = Upload(value.filename or key, value.content_type, data)
    return params


_MEDIA_KINDS = ("photo", "document", "voice", "video")
_DEFAULT_NAMES = {
    "photo": "photo.jpg",
    "document": "file",
    "voice": "voice.ogg",
    "video": "video.mp4",
}


@get("/file/{segment:str}/{path:path}", media_type="application/octet-stream")
async def download_file(
    state: State, segment: FromPath[str], path: FromPath[str]
) -> Response[bytes]:
    """A file's bytes, as Telegram serves them: typed application/octet-stream."""
    simulator = _sim(state)
    bot_id = simulator.bot_id(segment)
    kept = simulator.download(bot_id, path.lstrip("/")) if bot_id is not None else None
    if kept is None:
        return _json(*error(404, "Not Found"))
    return Response(kept.data, media_type="application/octet-stream")


@route("/{segment:str}/{method:str}", http_method=["GET", "POST"], include_in_schema=False)
async def bot_api(
    request: Request[Any, Any, Any], state: State, segment: FromPath[str], method: FromPath[str]
) -> Response[bytes]:
    simulator = _sim(state)
    bot_id = simulator.bot_id(segment)
    if bot_id is None:
        # Like Telegram: a path that is no bot token is unknown; a malformed token is refused.
        if segment.startswith("bot") and ":" in segment:
            return _json(*error(401, "Unauthorized"))
        return _json(*error(404, "Not Found"))
    params = await _params(request)
    if params is None:
        return _json(*error(400, "Bad Request: can't parse JSON object"))
    return _json(*simulator.call(bot_id, method, params))


@get("/_sim/users/{phone:str}")
async def get_user(state: State, phone: FromPath[str]) -> Response[bytes]:
    phone = normal_phone(phone)
    behaviour = _sim(state).behaviour(phone)
    return _json(200, {"phone": phone, "chat_id": chat_id_for(phone), "behaviour": behaviour})


@post("/_sim/users/{phone:str}/{action:str}")
async def user_action(
    request: Request[Any, Any, Any],
    state: State,
    phone: FromPath[str],
    action: FromPath[str],
    bot: FromQuery[str],
    text: FromQuery[str | None] = None,
    of: FromQuery[str | None] = None,
    reply_to: FromQuery[int | None] = None,
    kind: FromQuery[str | None] = None,
    name: FromQuery[str | None] = None,
    lat: FromQuery[float | None] = None,
    lon: FromQuery[float | None] = None,
) -> Response[bytes]:
    simulator = _sim(state)
    bot_id = int(bot) if bot.isdigit() else simulator.bot_id(f"bot{bot}")
    if bot_id is None:
        return _json(400, {"error": "bot must be a bot token or a bot id"})
    phone = normal_phone(phone)
    if action == "start":
        result = await simulator.start(bot_id, phone)
    elif action == "share_contact":
        result = await simulator.share_contact(bot_id, phone, of)
    elif action == "block":
        result = await simulator.block(bot_id, phone)
    elif action == "unblock":
        result = await simulator.unblock(bot_id, phone)
    elif action == "say" and kind in _MEDIA_KINDS:
        data = await request.body()
        if not data:
            return _json(400, {"error": "the request's body is the file to send"})
        mime = request.headers.get("content-type", "application/octet-stream")
        upload = Upload(name or _DEFAULT_NAMES[kind], mime.split(";")[0].strip(), data)
        result = await simulator.send_media(bot_id, phone, kind, upload, text or "")
    elif action == "say" and kind not in (None, "text"):
        return _json(400, {"error": f"kind must be text or one of {', '.join(_MEDIA_KINDS)}"})
    elif action == "location":
        if lat is None or lon is None:
            return _json(400, {"error": "lat and lon are required"})
        result = await simulator.send_location(bot_id, phone, lat, lon)
    elif action in ("say", "press"):
        if not text:
            return _json(400, {"error": "text is required"})
        if action == "say":
            result = await simulator.say(bot_id, phone, text, reply_to)
        else:
            result = await simulator.press(bot_id, phone, text)
    else:
        return _json(404, {"error": f"unknown action {action!r}"})
    # An action that produced no update (no such message or button) is the caller's error.
    return _json(200 if "update" in result else 404, result)


@post("/_sim/bots/{bot:str}/revoke", status_code=204)
async def revoke_bot(state: State, bot: FromPath[str]) -> None:
    """The bot's token stops working (as after /revoke with @BotFather)."""
    simulator = _sim(state)
    bot_id = int(bot) if bot.isdigit() else simulator.bot_id(f"bot{bot}")
    if bot_id is not None:
        simulator.revoked.add(bot_id)


def create_app(
    *,
    rate_limits: bool = True,
    clock: Clock | None = None,
    simulator: TelegramSimulator | None = None,
) -> Litestar:
    """The simulator as an ASGI app; its state is `app.state.simulator`."""
    sim = simulator or TelegramSimulator(rate_limits=rate_limits, clock=clock or SystemClock())

    async def close() -> None:
        await sim.aclose()

    return Litestar(
        logging_config=None,  # the process's own logging stands (`cascade up`: text or JSON)
        route_handlers=[
            bot_api,
            download_file,
            *any_form_routes(
                set_script=sim.scripts.set,
                reset=sim.reset,
                forget=sim.received.clear,
                logs={"received": sim.received},
            ),
            get_user,
            user_action,
            revoke_bot,
        ],
        state=State({"simulator": sim}),
        on_shutdown=[close],
        openapi_config=None,
    )


def main(host: str = "127.0.0.1", port: int = 8081) -> None:
    """Serve the simulator standalone (`cascade simulate telegram`)."""
    import uvicorn

    # No access log: Bot API paths carry the bot's token.
    uvicorn.run(create_app(), host=host, port=port, access_log=False, ws="none")


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["create_app", "main"]
