"""A stand-in for Viber's REST Bot API (`chatapi.viber.com/pa/…`), on a real socket.

It answers `send_message`, `set_webhook` and `get_account_info` as Viber does (HTTP 200,
the verdict in `status`), and calls the bot's webhook back the way Viber does: signed
with `X-Viber-Content-Signature` (hex HMAC-SHA256 of the body keyed by the bot's token),
`delivered`/`seen`/`failed` after an accepted send, per the phone's `Behaviour`.

Viber addresses users by an opaque id. Here the id is derived from the phone by a keyed
permutation, so it looks opaque yet maps back to the phone without any stored state:
`user_id(phone)` and `phone_for(user_id)`.

Test and demo controls live under `/_sim/` (never on the real service):

| Method | Path | What |
|---|---|---|
| PUT | `/_sim/script/{phone}` | set the phone's `Behaviour` (JSON) |
| DELETE | `/_sim/script` | forget every script and every user's (un)subscription |
| GET, DELETE | `/_sim/received` | accepted messages (`?phone=`) / forget them and callbacks |
| GET | `/_sim/callbacks` | every callback posted, with the webhook's HTTP answer |
| GET | `/_sim/users/{phone}` | the phone's Viber user id and whether it is subscribed |
| POST | `/_sim/users/{phone}/subscribe` | the user subscribes (`subscribed` callback) |
| POST | `/_sim/users/{phone}/unsubscribe` | the user unsubscribes |
| POST | `/_sim/users/{phone}/conversation_started` | the user opens the chat |
| POST | `/_sim/users/{phone}/share_contact` | the user shares their phone (`message`, contact) |
| POST | `/_sim/users/{phone}/answer?text=…` | the user replies; carries the last tracking data |
| POST | `/_sim/users/{phone}/say?kind=…` | the user writes (kinds below) |
| GET | `/_sim/media/{id}/{name}` | a user's media, where their message's `media` URL points |

`say` kinds: `text` (`&text=`); `picture`, `file`, `video` (the request's body is the
media, typed by its Content-Type; `&name=`, and `&text=` a caption); `location`
(`&lat=&lon=`); `contact` (`&of=` someone's phone, `&name=`).

Pictures, files and videos a bot sends are fetched from their `media` URL before the
message is accepted (as Viber does to show them); a URL that does not answer 200 is
`badData`. What arrived is recorded with its size and SHA-256.

User actions take `?token=` to pick the bot when the simulator has several, and post
their callback before answering, so the caller knows it has arrived.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery

from cascade.simulators.control import control_routes, e164
from cascade.simulators.media import MediaFetcher, MediaRefused
from cascade.simulators.script import Behaviour, Scripts
from cascade.simulators.webhook_caller import WebhookCaller, WebhookFailed

log = logging.getLogger(__name__)

CHAT_HOSTNAME: Final = "SN-CHAT-SIM_"
MAX_TEXT: Final = 7000
MAX_SENDER_NAME: Final = 28
# The events a bot may filter in set_webhook; "message" and "webhook" always come.
FILTERABLE_EVENTS: Final = (
    "delivered",
    "seen",
    "failed",
    "subscribed",
    "unsubscribed",
    "conversation_started",
)

# --- user ids: a keyed 4-round Feistel permutation of (length, digits) --------------------

_ID_KEY: Final = b"cascade viber simulator user ids"


def _round(i: int, half: bytes) -> bytes:
    return hmac.new(_ID_KEY, bytes([i]) + half, hashlib.sha256).digest()[:8]


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def user_id(phone: str) -> str:
    """The Viber user id of an E.164 phone: 24 base64 characters, stable, reversible."""
    digits = phone.removeprefix("+")
    if not (digits.isdigit() and len(digits) <= 15):
        raise ValueError("not an E.164 phone number")
    block = (bytes([len(digits)]) + digits.encode()).ljust(16, b"\0")
    left, right = block[:8], block[8:]
    for i in range(4):
        left, right = right, _xor(left, _round(i, right))
    return base64.b64encode(left + right).decode()


def phone_for(viber_id: str) -> str | None:
    """The phone behind a user id made by `user_id`, or None for any other string."""
    try:
        block = base64.b64decode(viber_id, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(block) != 16:
        return None
    left, right = block[:8], block[8:]
    for i in reversed(range(4)):
        left, right = _xor(right, _round(i, left)), left
    plain = left + right
    size = plain[0]
    digits = plain[1 : 1 + size]
    if not 1 <= size <= 15 or not digits.isdigit() or plain[1 + size :].strip(b"\0"):
        return None
    return "+" + digits.decode()


def sign(body: bytes, token: str) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _new_token() -> int:
    # Viber's message tokens are 19-digit positive integers.
    return 2**62 + secrets.randbelow(2**62)


# --- state --------------------------------------------------------------------------------


@dataclass
class Bot:
    token: str = field(repr=False)
    name: str
    id: str
    webhook: str = ""
    event_types: tuple[str, ...] = FILTERABLE_EVENTS


class ReceivedMedia(msgspec.Struct, kw_only=True):
    """What a picture, file or video message's URL served when the simulator fetched it."""

    url: str
    content_type: str
    size: int
    sha256: str
    file_name: str | None = None
    declared_size: int | None = None  # a file message's `size`


class Received(msgspec.Struct, kw_only=True):
    """One accepted `send_message`."""

    message_token: int
    bot: str  # the bot's name (its token is a secret and is not recorded)
    receiver: str
    phone: str
    type: str
    text: str | None
    keyboard: dict[str, Any] | None
    tracking_data: str | None
    sender_name: str
    at_ms: int
    media: ReceivedMedia | None = None


class CallbackSent(msgspec.Struct, kw_only=True):
    """One callback the simulator posted, and what the webhook answered (None: no answer)."""

    bot: str
    event: str
    message_token: int
    http_status: int | None
    attempts: int
    at_ms: int


@dataclass
class ViberSimulator(WebhookCaller):
    """Everything the simulator knows; one instance serves one app."""

    bots: dict[str, Bot] = field(default_factory=dict, repr=False)  # keyed by auth token
    scripts: Scripts = field(default_factory=lambda: Scripts("viber"))
    received: list[Received] = field(default_factory=list)
    callbacks: list[CallbackSent] = field(default_factory=list)
    # An explicit (un)subscription by the user wins over the script until the next script.
    subscriptions: dict[str, bool] = field(default_factory=dict)
    last_tracking: dict[tuple[str, str], str] = field(default_factory=dict)
    callback_attempts: int = 3
    callback_backoff_s: float = 0.2
    fetcher: MediaFetcher = field(default_factory=MediaFetcher)
    # users' media, served at /_sim/media/{id}/{name}: id -> (name, type, bytes)
    user_media: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)

    def add_bot(self, token: str, name: str) -> Bot:
        bot_id = "pa:" + str(int.from_bytes(hashlib.sha256(token.encode()).digest()[:8], "big"))
        bot = Bot(token=token, name=name, id=bot_id)
        self.bots[token] = bot
        return bot

    def is_subscribed(self, phone: str) -> bool:
        explicit = self.subscriptions.get(phone)
        if explicit is not None:
            return explicit
        behaviour = self.scripts.get(phone)
        return behaviour.reachable and not behaviour.blocked

    def set_script(self, phone: str, behaviour: Behaviour) -> None:
        self.scripts.set(phone, behaviour)
        self.subscriptions.pop(phone, None)

    def reset(self) -> None:
        self.scripts.clear()
        self.subscriptions.clear()

    # --- callbacks ---------------------------------------------------------------------

    async def post_callback(
        self, bot: Bot, payload: dict[str, Any], attempts: int | None = None, *, queued: bool = True
    ) -> int | None:
        """POST one signed callback to the bot's webhook, retrying until it answers 200.

        Returns the webhook's last HTTP status (None: no answer, or nothing to post).
        `queued`: as for `WebhookCaller.post`.
        """
        event = str(payload["event"])
        if not bot.webhook or (event in FILTERABLE_EVENTS and event not in bot.event_types):
            return None
        body = msgspec.json.encode(payload)
        headers = {
            "Content-Type": "application/json",
            "X-Viber-Content-Signature": sign(body, bot.token),
        }
        limit = attempts or self.callback_attempts
        status: int | None = None
        tries = 0
        for attempt in range(limit):
            tries = attempt + 1
            try:
                response = await self.post(bot.webhook, body, headers, queued=queued)
                status = response.status_code
            except WebhookFailed as exc:
                log.info("viber simulator: %s callback failed: %s", event, exc)
                status = None
            if status == 200 or tries == limit:
                break
            await asyncio.sleep(self.callback_backoff_s * 2**attempt)
        self.callbacks.append(
            CallbackSent(
                bot=bot.name,
                event=event,
                message_token=int(payload.get("message_token", 0)),
                http_status=status,
                attempts=tries,
                at_ms=_now_ms(),
            )
        )
        return status

    def schedule_receipts(self, bot: Bot, token: int, viber_id: str, behaviour: Behaviour) -> None:
        self.spawn(self._receipts(bot, token, viber_id, behaviour))

    async def _receipts(self, bot: Bot, token: int, viber_id: str, behaviour: Behaviour) -> None:
        def receipt(event: str, **extra: Any) -> dict[str, Any]:
            return {
                "event": event,
                "timestamp": _now_ms(),
                "chat_hostname": CHAT_HOSTNAME,
                "message_token": token,
                "user_id": viber_id,
                **extra,
            }

        delay_ms = behaviour.deliver_after_ms
        if behaviour.fail:
            await asyncio.sleep((delay_ms or 0) / 1000)
            await self.post_callback(bot, receipt("failed", desc=behaviour.fail_reason))
            return
        if delay_ms is None:
            return  # the phone never confirms
        await asyncio.sleep(delay_ms / 1000)
        await self.post_callback(bot, receipt("delivered"))
        if behaviour.read_after_ms is not None:
            await asyncio.sleep(max(behaviour.read_after_ms - delay_ms, 0) / 1000)
            await self.post_callback(bot, receipt("seen"))


# --- the Viber API ---------------------------------------------------------------------------


def _status(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": code, "status_message": message, **extra}


def _bot_for(sim: ViberSimulator, request: Request[Any, Any, Any]) -> Bot | dict[str, Any]:
    token = request.headers.get("x-viber-auth-token")
    if not token:
        return _status(2, "missing_auth_token")
    bot = sim.bots.get(token)
    if bot is None:
        return _status(2, "invalidAuthToken")
    return bot


async def _json_object(request: Request[Any, Any, Any]) -> dict[str, Any] | None:
    try:
        value = msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None


_MEDIA_TYPES: Final = ("picture", "file", "video")
_PICTURE_EXTENSIONS: Final = (".jpeg", ".jpg", ".png", ".gif")
MAX_FILE_NAME: Final = 256


def _media_missing(kind: object, body: dict[str, Any]) -> bool:
    """What each media type requires (picture: a text, which may be empty; file: its size
    and name; video: its size)."""
    if kind not in _MEDIA_TYPES:
        return False
    if not isinstance(body.get("media"), str) or not body["media"]:
        return True
    if kind == "picture":
        return body.get("text") is None
    if kind == "file":
        return body.get("size") is None or not body.get("file_name")
    return body.get("size") is None


def _media_bad(kind: object, body: dict[str, Any]) -> bool:
    if kind not in _MEDIA_TYPES:
        return False
    size = body.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        return True
    name = body.get("file_name")
    if name is not None and (not isinstance(name, str) or len(name) > MAX_FILE_NAME):
        return True
    # a picture's URL ends in the image's extension (Viber's rule for `media`)
    path = str(body["media"]).split("?")[0].lower()
    return kind == "picture" and not path.endswith(_PICTURE_EXTENSIONS)


async def _fetch_media(sim: ViberSimulator, body: dict[str, Any]) -> ReceivedMedia | None:
    found = await sim.fetcher.fetch(str(body["media"]))
    if isinstance(found, MediaRefused):
        log.info("viber simulator: media refused: %s", found.reason)
        return None
    fetched, data = found
    return ReceivedMedia(
        url=str(body["media"]),
        content_type=fetched.content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        file_name=body.get("file_name"),
        declared_size=body.get("size"),
    )


async def _send_message(sim: ViberSimulator, bot: Bot, body: dict[str, Any]) -> dict[str, Any]:
    receiver = body.get("receiver")
    kind = body.get("type")
    sender = body.get("sender")
    text = body.get("text")
    sender_name = sender.get("name") if isinstance(sender, dict) else None
    if not receiver or not kind or not sender_name or (kind == "text" and not text):
        return _status(4, "missingData")
    if _media_missing(kind, body):
        return _status(4, "missingData")
    if _media_bad(kind, body):
        return _status(3, "badData")
    if not isinstance(receiver, str) or not isinstance(sender_name, str):
        return _status(3, "badData")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT):
        return _status(3, "badData")
    if len(sender_name) > MAX_SENDER_NAME:
        return _status(3, "badData")
    tracking = body.get("tracking_data")
    if tracking is not None and not isinstance(tracking, str):
        return _status(3, "badData")
    keyboard = body.get("keyboard")
    if keyboard is not None and not _valid_keyboard(keyboard):
        return _status(3, "badData")
    if not bot.webhook:
        return _status(10, "webhookNotSet")
    phone = phone_for(receiver)
    if phone is None:
        return _status(5, "receiverNotRegistered")
    behaviour = sim.scripts.get(phone)
    if behaviour.throttle:
        return _status(12, "tooManyRequests")
    if not sim.is_subscribed(phone):
        return _status(6, "notSubscribed")
    media = None
    if kind in _MEDIA_TYPES:
        media = await _fetch_media(sim, body)
        if media is None:
            return _status(3, "badData")
    token = _new_token()
    sim.received.append(
        Received(
            message_token=token,
            bot=bot.name,
            receiver=receiver,
            phone=phone,
            type=str(kind),
            text=text,
            keyboard=keyboard,
            tracking_data=tracking,
            sender_name=sender_name,
            at_ms=_now_ms(),
            media=media,
        )
    )
    if tracking:
        sim.last_tracking[(bot.token, phone)] = tracking
    sim.schedule_receipts(bot, token, receiver, behaviour)
    return _status(0, "ok", message_token=token, chat_hostname=CHAT_HOSTNAME)


def _valid_keyboard(keyboard: object) -> bool:
    if not isinstance(keyboard, dict) or keyboard.get("Type") != "keyboard":
        return False
    buttons = keyboard.get("Buttons")
    if not isinstance(buttons, list) or not buttons:
        return False
    return all(isinstance(b, dict) and isinstance(b.get("ActionBody"), str) for b in buttons)


async def _set_webhook(sim: ViberSimulator, bot: Bot, body: dict[str, Any]) -> dict[str, Any]:
    url = body.get("url")
    if url is None:
        return _status(4, "missingData")
    if not isinstance(url, str):
        return _status(3, "badData")
    if url == "":
        bot.webhook = ""
        return _status(0, "ok")
    requested = body.get("event_types", list(FILTERABLE_EVENTS))
    if not isinstance(requested, list) or any(e not in FILTERABLE_EVENTS for e in requested):
        return _status(3, "badData")
    if not url.startswith(("http://", "https://")):
        return _status(1, "invalidUrl")
    # Viber checks the URL with a signed "webhook" callback before accepting it.
    check = Bot(token=bot.token, name=bot.name, id=bot.id, webhook=url)
    payload = {
        "event": "webhook",
        "timestamp": _now_ms(),
        "chat_hostname": CHAT_HOSTNAME,
        "message_token": _new_token(),
    }
    status = await sim.post_callback(check, payload, attempts=1, queued=False)
    if status != 200:
        return _status(1, "invalidUrl")
    bot.webhook = url
    bot.event_types = tuple(e for e in FILTERABLE_EVENTS if e in requested)
    return _status(0, "ok", event_types=list(bot.event_types))


def _account_info(sim: ViberSimulator, bot: Bot) -> dict[str, Any]:
    subscribers = sum(1 for subscribed in sim.subscriptions.values() if subscribed)
    return _status(
        0,
        "ok",
        id=bot.id,
        chat_hostname=CHAT_HOSTNAME,
        name=bot.name,
        uri=bot.name.lower().replace(" ", ""),
        icon="",
        background="",
        category="",
        subcategory="",
        location={"lon": 0.0, "lat": 0.0},
        country="UA",
        webhook=bot.webhook,
        event_types=list(bot.event_types),
        subscribers_count=subscribers,
        members=[],
    )


# --- user actions ----------------------------------------------------------------------------


def _user(phone: str) -> dict[str, Any]:
    return {
        "id": user_id(phone),
        "name": f"Sim User {phone[-4:]}",
        "avatar": "",
        "country": "UA",
        "language": "en",
        "api_version": 10,
    }


def _user_event(
    sim: ViberSimulator,
    action: str,
    phone: str,
    bot: Bot,
    text: str,
    said: dict[str, Any] | None = None,
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "timestamp": _now_ms(),
        "chat_hostname": CHAT_HOSTNAME,
        "message_token": _new_token(),
    }
    if action == "subscribe":
        sim.subscriptions[phone] = True
        return {"event": "subscribed", **base, "user": _user(phone)}
    if action == "unsubscribe":
        sim.subscriptions[phone] = False
        return {"event": "unsubscribed", **base, "user_id": user_id(phone)}
    if action == "conversation_started":
        return {
            "event": "conversation_started",
            **base,
            "type": "open",
            "context": "",
            "user": _user(phone),
            "subscribed": sim.is_subscribed(phone),
        }
    # Sending the bot a message subscribes the user (Viber sends no "subscribed" then).
    sim.subscriptions[phone] = True
    message: dict[str, Any]
    if said is not None:
        message = said
    elif action == "share_contact":
        contact = {"name": f"Sim User {phone[-4:]}", "phone_number": phone.removeprefix("+")}
        message = {"type": "contact", "contact": contact}
    else:
        message = {"type": "text", "text": text}
    tracking = sim.last_tracking.get((bot.token, phone))
    if tracking:
        message["tracking_data"] = tracking
    return {"event": "message", **base, "sender": _user(phone), "message": message, "silent": False}


# --- the app -----------------------------------------------------------------------------------


def create_app(
    simulator: ViberSimulator | None = None, *, bots: Mapping[str, str] | None = None
) -> Litestar:
    """The simulator as an ASGI app; `bots` maps auth tokens to bot names."""
    sim = simulator if simulator is not None else ViberSimulator()
    for token, name in (bots or {}).items():
        sim.add_bot(token, name)

    @post("/pa/send_message", status_code=200)
    async def send_message(request: Request[Any, Any, Any]) -> dict[str, Any]:
        bot = _bot_for(sim, request)
        if not isinstance(bot, Bot):
            return bot
        body = await _json_object(request)
        if body is None:
            return _status(3, "badData")
        return await _send_message(sim, bot, body)

    @post("/pa/set_webhook", status_code=200)
    async def set_webhook(request: Request[Any, Any, Any]) -> dict[str, Any]:
        bot = _bot_for(sim, request)
        if not isinstance(bot, Bot):
            return bot
        body = await _json_object(request)
        if body is None:
            return _status(3, "badData")
        return await _set_webhook(sim, bot, body)

    @post("/pa/get_account_info", status_code=200)
    async def get_account_info(request: Request[Any, Any, Any]) -> dict[str, Any]:
        bot = _bot_for(sim, request)
        if not isinstance(bot, Bot):
            return bot
        return _account_info(sim, bot)

    @get("/_sim/users/{phone:str}")
    async def get_user(phone: FromPath[str]) -> dict[str, Any]:
        number = e164(phone)
        return {"phone": number, "id": user_id(number), "subscribed": sim.is_subscribed(number)}

    @post("/_sim/users/{phone:str}/{action:str}", status_code=200)
    async def user_action(
        phone: FromPath[str],
        action: FromPath[str],
        request: Request[Any, Any, Any],
        token: FromQuery[str | None] = None,
        text: FromQuery[str] = "",
        kind: FromQuery[str] = "text",
        name: FromQuery[str | None] = None,
        lat: FromQuery[float | None] = None,
        lon: FromQuery[float | None] = None,
        of: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        number = e164(phone)
        if action not in (
            "subscribe",
            "unsubscribe",
            "conversation_started",
            "share_contact",
            "answer",
            "say",
        ):
            raise NotFoundException(f"no user action {action!r}")
        if action == "answer" and not text:
            raise HTTPException(status_code=400, detail="answer needs ?text=")
        bot = _pick_bot(sim, token)
        if not bot.webhook:
            raise HTTPException(status_code=409, detail="the bot has no webhook")
        said = None
        if action == "say":
            said = await _said(sim, request, kind, text, name, lat, lon, of)
        payload = _user_event(sim, action, number, bot, text, said)
        status = await sim.post_callback(bot, payload)
        return {"event": payload["event"], "user_id": user_id(number), "callback_status": status}

    @get("/_sim/media/{media_id:str}/{name:str}", media_type="application/octet-stream")
    async def user_media(media_id: FromPath[str], name: FromPath[str]) -> Response[bytes]:
        found = sim.user_media.get(media_id)
        if found is None or found[0] != name:
            raise NotFoundException("no such media")
        return Response(found[2], media_type=found[1])

    async def stop() -> None:
        await sim.stop()
        await sim.fetcher.close()

    return Litestar(
        logging_config=None,  # the process's own logging stands (`cascade up`: text or JSON)
        route_handlers=[
            user_media,
            send_message,
            set_webhook,
            get_account_info,
            *control_routes(
                set_script=sim.set_script,
                reset=sim.reset,
                received=sim.received,
                logs={"callbacks": sim.callbacks},
            ),
            get_user,
            user_action,
        ],
        on_startup=[sim.start],
        on_shutdown=[stop],
        openapi_config=None,
    )


_SAY_MEDIA: Final = {"picture": "picture.jpg", "file": "file", "video": "video.mp4"}


async def _said(
    sim: ViberSimulator,
    request: Request[Any, Any, Any],
    kind: str,
    text: str,
    name: str | None,
    lat: float | None,
    lon: float | None,
    of: str | None,
) -> dict[str, Any]:
    """The `message` of a user's `say`, as Viber's callback carries it."""
    if kind == "text":
        if not text:
            raise HTTPException(status_code=400, detail="say needs ?text=")
        return {"type": "text", "text": text}
    if kind == "location":
        if lat is None or lon is None:
            raise HTTPException(status_code=400, detail="a location needs ?lat=&lon=")
        return {"type": "location", "location": {"lat": lat, "lon": lon}}
    if kind == "contact":
        if not of:
            raise HTTPException(status_code=400, detail="a contact needs ?of=<phone>")
        owner = e164(of)
        card = {"name": name or f"Sim User {owner[-4:]}", "phone_number": owner[1:]}
        return {"type": "contact", "contact": card}
    if kind not in _SAY_MEDIA:
        raise HTTPException(status_code=400, detail=f"no message kind {kind!r}")
    data = await request.body()
    if not data:
        raise HTTPException(status_code=400, detail="the request's body is the media")
    file_name = name or _SAY_MEDIA[kind]
    mime = request.headers.get("content-type", "application/octet-stream").split(";")[0]
    media_id = secrets.token_urlsafe(16)
    sim.user_media[media_id] = (file_name, mime.strip(), data)
    url = f"{str(request.base_url).rstrip('/')}/_sim/media/{media_id}/{file_name}"
    message: dict[str, Any] = {"type": kind, "media": url}
    if kind == "picture":
        message.update(text=text, thumbnail=url)
    elif kind == "file":
        message.update(file_name=file_name, file_size=len(data))
    else:
        message.update(size=len(data), duration=1, thumbnail="")
        if text:
            message["text"] = text
    return message


def _pick_bot(sim: ViberSimulator, token: str | None) -> Bot:
    if token is None:
        if len(sim.bots) != 1:
            raise HTTPException(status_code=400, detail="name the bot with ?token=")
        return next(iter(sim.bots.values()))
    bot = sim.bots.get(token)
    if bot is None:
        raise NotFoundException("no such bot")
    return bot
