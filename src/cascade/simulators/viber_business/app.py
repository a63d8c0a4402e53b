"""A stand-in for the Vonage Messages API's Viber Business channel, on a real socket.

It answers `POST /v1/messages` as Vonage does: Basic authentication with
`api_key:api_secret` (401 otherwise), the request checked field by field (422 with an
RFC 7807 body naming the invalid parameters; `text` belongs to a text message only, and
a file is `{url, name}` with no caption, so a text sent beside a file is refused, never
dropped), 429 when the phone's script throttles,
else 202 with a `message_uuid`. Then it POSTs status webhooks to the account's status URL
the way Vonage does: `submitted`, then `delivered` (and `read`), or `rejected` with the
error code Vonage uses (1300 not a Viber user, 1240 blocked, 1310 no suitable device,
1360 expired), each signed with a JWT in `Authorization: Bearer …` (HS256 with the
account's signature secret; claims `iat`, `jti`, `iss`, `api_key`, `payload_hash`).

A person can answer (`/_sim/users/{phone}/reply`): Vonage POSTs the inbound message to
the account's inbound URL as the Messages API does for `viber_service` —
`{"channel", "message_uuid", "to" (the service the person answers), "from" (the phone,
digits), "timestamp", "message_type": "text", "text", "context_status", "context":
{"message_uuid"}}` with the message answered — signed like a status webhook, and retried
the same way until the receiver answers 2xx.

What a phone does comes from `Scripts("viber_business")` (the sandbox personas unless a
test scripts it). Test and demo controls live under `/_sim/` (never on the real service);
`/_sim/webhook` stands for the status and inbound URLs and signature secret set in
Vonage's dashboard (add `"api_key"` when the simulator serves several accounts):

| Method | Path | What |
|---|---|---|
| POST | `/_sim/webhook` | `{"url", "signature_secret", "inbound_url"?}` (inbound: `url` if none) |
| POST | `/_sim/partner/webhook` | `{"url"}`: where Viber's own status callbacks go |
| PUT | `/_sim/partner/templates` | `[{"id", "languages", "required", "optional"?}]` (below) |
| POST | `/_sim/users/{phone}/reply?text=…` | the person answers the newest message they got |
| GET | `/_sim/inbound` | every inbound message posted, with the receiver's HTTP answer |
| PUT | `/_sim/script/{phone}` | set the phone's `Behaviour` (JSON) |
| DELETE | `/_sim/script` | forget every script |
| GET, DELETE | `/_sim/received` | accepted messages (`?phone=`) / forget them and webhooks |
| GET | `/_sim/callbacks` | every status webhook posted, with the receiver's HTTP answer |

`PUT /_sim/partner/templates` registers OTP templates as an operator registers them at
Viber: each is added, or replaces the one with its id, and the answer lists every id now
known. A template without an id, a two-letter language, or `pin` among its required
parameters is a 400, and then none of the list is registered.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from litestar import Litestar, Request, Response, post, put
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, JSONBody

from cascade.simulators.control import control_routes, e164
from cascade.simulators.media import MediaFetcher, MediaRefused
from cascade.simulators.script import (
    Behaviour,
    Scripts,
    viber_business_receipts,
    viber_business_refusal,
)
from cascade.simulators.viber_business.partner import SEND_PATH, PartnerSimulator, Template
from cascade.simulators.webhook_caller import WebhookCaller, WebhookFailed

log = logging.getLogger(__name__)

PROVIDER_CHANNEL: Final = "viber_service"
MAX_TEXT: Final = 1000
MIN_TTL_S: Final = 30
MAX_TTL_S: Final = 259_200
DEFAULT_TTL_S: Final = 86_400
MAX_BUTTON_TEXT: Final = 30
MAX_FROM: Final = 50
MAX_CLIENT_REF: Final = 100
MAX_THUMB_URL: Final = 1000
MAX_DURATION_S: Final = 600
MAX_VIDEO_MB: Final = 200
MAX_FILE_NAME: Final = 25
MESSAGE_TYPES: Final = ("text", "image", "video", "file")
IMAGE_TYPES: Final = ("image/jpeg", "image/png", "image/gif")
# the document types Viber Business Messages take (by the file name's extension)
FILE_TYPES: Final = frozenset(
    {"doc", "docx", "rtf", "dot", "dotx", "odt", "odf", "fodt", "txt", "info", "pdf"}
    | {"xps", "pdax", "eps", "xls", "xlsx", "ods", "fods", "csv", "xlsm", "xltx"}
)
PROBLEM_JSON: Final = "application/problem+json"
ERRORS_BASE: Final = "https://developer.vonage.com/api-errors"

# The Messages API error codes this simulator reports, with Vonage's wording.
NOT_VIBER_USER: Final = 1300
NO_SUITABLE_DEVICE: Final = 1310
USER_BLOCKED: Final = 1240
EXPIRED: Final = 1360
UNKNOWN: Final = 1330
ERROR_DETAILS: Final[dict[int, str]] = {
    1130: "Invalid TTL - The value of ttl in your request was invalid.",
    1150: "Invalid params - The value of one or more parameters is invalid.",
    1240: (
        "Illegal Number - You tried to send a message to a blacklisted phone number. That is, "
        "the user has already sent a STOP opt-out message and no longer wishes to receive "
        "messages from you."
    ),
    1300: "Not part of the provider network - The number or ID is not a user in the provider "
    "network.",
    1310: "Not suitable device - The user's device can't receive the message.",
    1330: "Unknown - An unknown error was received from the carrier who tried to send this "
    "message.",
    1360: "TTL was activated, or message expired before delivered.",
    1420: "Invalid sender - The from parameter is invalid for the given channel.",
}

_TO = re.compile(r"[1-9][0-9]{6,14}")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _timestamp() -> str:
    """Vonage's webhook timestamp: ISO 8601, UTC, milliseconds, `Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def signed_token(
    body: bytes, signature_secret: str, api_key: str, *, iat: int | None = None
) -> str:
    """The JWT Vonage puts in a webhook's `Authorization: Bearer` header for `body`."""
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "iat": int(time.time()) if iat is None else iat,
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": api_key,
    }
    signing_input = f"{_b64url(msgspec.json.encode(header))}.{_b64url(msgspec.json.encode(claims))}"
    mac = hmac.new(signature_secret.encode(), signing_input.encode("ascii"), hashlib.sha256)
    return f"{signing_input}.{_b64url(mac.digest())}"


# --- state --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusTarget:
    """An account's status URL and the secret its webhooks are signed with."""

    url: str
    signature_secret: str = field(repr=False)
    inbound_url: str = ""  # where people's messages go: `url` unless set


class Received(msgspec.Struct, kw_only=True):
    """One accepted `POST /v1/messages` (the account's secret is not recorded)."""

    message_uuid: str
    api_key: str
    to: str
    phone: str
    sender: str  # `from`: the Viber service id
    message_type: str
    text: str | None
    category: str | None
    ttl: int
    image: str | None
    button: dict[str, str] | None
    client_ref: str | None
    at_ms: int
    video: str | None = None
    thumbnail: str | None = None
    duration_s: int | None = None
    file_size_mb: int | None = None
    file: str | None = None
    file_name: str | None = None


class CallbackSent(msgspec.Struct, kw_only=True):
    """One status webhook posted, and what the receiver answered (None: no answer)."""

    message_uuid: str
    status: str
    error_code: int | None
    http_status: int | None
    attempts: int
    at_ms: int


class PartnerWebhook(msgspec.Struct, forbid_unknown_fields=True):
    url: str


class TemplateIn(msgspec.Struct, forbid_unknown_fields=True):
    """An OTP template as an operator registers it at Viber."""

    id: str
    languages: list[str]
    required: list[str]
    optional: list[str] = msgspec.field(default_factory=list)


class InboundSent(msgspec.Struct, kw_only=True):
    """One inbound message posted (a person's answer), and what the receiver answered."""

    message_uuid: str
    phone: str
    to: str
    text: str
    http_status: int | None
    attempts: int
    at_ms: int


class WebhookSettings(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    signature_secret: str
    api_key: str | None = None
    inbound_url: str | None = None


@dataclass
class VonageSimulator(WebhookCaller):
    """Everything the simulator knows; one instance serves one app."""

    accounts: dict[str, str] = field(default_factory=dict, repr=False)  # api_key -> secret
    service_ids: frozenset[str] = frozenset()  # accepted `from` values; empty: any
    scripts: Scripts = field(default_factory=lambda: Scripts("viber_business"))
    received: list[Received] = field(default_factory=list)
    callbacks: list[CallbackSent] = field(default_factory=list)
    inbound: list[InboundSent] = field(default_factory=list)
    targets: dict[str, StatusTarget] = field(default_factory=dict, repr=False)
    callback_attempts: int = 3
    callback_backoff_s: float = 0.2
    media: MediaFetcher = field(default_factory=MediaFetcher)

    async def stop(self) -> None:
        await super().stop()
        await self.media.close()

    def add_account(self, api_key: str, api_secret: str) -> None:
        self.accounts[api_key] = api_secret

    def set_target(
        self, api_key: str, url: str, signature_secret: str, inbound_url: str | None = None
    ) -> None:
        self.targets[api_key] = StatusTarget(url, signature_secret, inbound_url or url)

    # --- authentication ---------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> str | None:
        """The api_key of a valid Basic `Authorization` header, else None."""
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        key, _, secret = decoded.partition(":")
        expected = self.accounts.get(key)
        if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
            return None
        return key

    # --- status webhooks ----------------------------------------------------------------

    async def post_status(self, api_key: str, payload: dict[str, Any]) -> int | None:
        """POST one signed status webhook, retrying until it answers 2xx."""
        target = self.targets.get(api_key)
        if target is None:
            return None
        status, tries = await self._post_signed(target.url, target, api_key, payload)
        error = payload.get("error")
        self.callbacks.append(
            CallbackSent(
                message_uuid=str(payload["message_uuid"]),
                status=str(payload["status"]),
                error_code=int(error["title"]) if isinstance(error, dict) else None,
                http_status=status,
                attempts=tries,
                at_ms=_now_ms(),
            )
        )
        return status

    async def _post_signed(
        self, url: str, target: StatusTarget, api_key: str, payload: dict[str, Any]
    ) -> tuple[int | None, int]:
        """POST a webhook signed as Vonage signs it, until a 2xx or the tries run out:
        (the last HTTP status, None when nothing answered; how many tries)."""
        body = msgspec.json.encode(payload)
        status: int | None = None
        tries = 0
        for attempt in range(self.callback_attempts):
            tries = attempt + 1
            # Each attempt carries a freshly issued token (a stale one would be refused).
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {signed_token(body, target.signature_secret, api_key)}",
            }
            try:
                response = await self.post(url, body, headers)
                status = response.status_code
            except WebhookFailed as exc:
                log.info("vonage simulator: webhook failed: %s", exc)
                status = None
            if (status is not None and 200 <= status < 300) or tries == self.callback_attempts:
                break
            await asyncio.sleep(self.callback_backoff_s * 2**attempt)
        return status, tries

    async def reply(self, phone: str, text: str) -> InboundSent:
        """`phone` answers the newest message it got (LookupError: it got none, or its
        account set no webhook): the inbound message, as posted."""
        last = next((m for m in reversed(self.received) if m.phone == phone), None)
        if last is None:
            raise LookupError("the phone got no message to answer")
        target = self.targets.get(last.api_key)
        if target is None:
            raise LookupError("the account set no inbound URL")
        message_uuid = str(uuid.uuid4())
        payload: dict[str, Any] = {
            "channel": PROVIDER_CHANNEL,
            "message_uuid": message_uuid,
            "to": last.sender,
            "from": last.to,
            "timestamp": _timestamp(),
            "message_type": "text",
            "text": text,
            "context_status": "available",
            "context": {"message_uuid": last.message_uuid},
        }
        status, tries = await self._post_signed(target.inbound_url, target, last.api_key, payload)
        sent = InboundSent(
            message_uuid=message_uuid,
            phone=phone,
            to=last.sender,
            text=text,
            http_status=status,
            attempts=tries,
            at_ms=_now_ms(),
        )
        self.inbound.append(sent)
        return sent

    def schedule_statuses(self, message: Received, behaviour: Behaviour) -> None:
        self.spawn(self._statuses(message, behaviour))

    async def _statuses(self, message: Received, behaviour: Behaviour) -> None:
        def status(name: str, error_code: int | None = None) -> dict[str, Any]:
            payload: dict[str, Any] = {
                "message_uuid": message.message_uuid,
                "to": message.to,
                "from": message.sender,
                "timestamp": _timestamp(),
                "status": name,
                "channel": PROVIDER_CHANNEL,
            }
            if message.client_ref is not None:
                payload["client_ref"] = message.client_ref
            if error_code is not None:
                payload["error"] = {
                    "type": f"{ERRORS_BASE}/messages#{error_code}",
                    "title": str(error_code),
                    "detail": ERROR_DETAILS.get(error_code, "Unknown error"),
                    "instance": uuid.uuid4().hex,
                }
            if name == "delivered":
                payload["usage"] = {"currency": "EUR", "price": "0.0085"}
            return payload

        key = message.api_key
        await self.post_status(key, status("submitted"))
        rejection = rejection_code(behaviour)
        delay_ms = behaviour.deliver_after_ms
        if rejection is not None:
            await asyncio.sleep((delay_ms or 0) / 1000)
            await self.post_status(key, status("rejected", rejection))
            return

        async def receipt(name: str) -> None:
            if name == "expired":
                await self.post_status(key, status("rejected", EXPIRED))
            else:
                await self.post_status(key, status(name))

        await viber_business_receipts(behaviour, message.ttl, receipt)


def rejection_code(behaviour: Behaviour) -> int | None:
    """The Vonage error code a phone's behaviour ends its messages with, if any."""
    return viber_business_refusal(
        behaviour,
        not_user=NOT_VIBER_USER,
        blocked=USER_BLOCKED,
        no_device=NO_SUITABLE_DEVICE,
        unknown=UNKNOWN,
    )


# --- the Messages API ---------------------------------------------------------------------------


class Problem(Exception):
    """An RFC 7807 answer."""

    def __init__(
        self,
        status: int,
        type_: str,
        title: str,
        detail: str,
        invalid: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.body: dict[str, Any] = {
            "type": type_,
            "title": title,
            "detail": detail,
            "instance": uuid.uuid4().hex,
        }
        if invalid:
            self.body["invalid_parameters"] = invalid


def _invalid(name: str, reason: str, code: int = 1150) -> Problem:
    title = "Invalid params" if code == 1150 else ERROR_DETAILS[code].split(" - ")[0]
    return Problem(
        422,
        f"{ERRORS_BASE}/messages#{code}",
        title,
        ERROR_DETAILS.get(code, "The value of one or more parameters is invalid."),
        [{"name": name, "reason": reason}],
    )


def _unauthorized() -> Problem:
    return Problem(
        401,
        f"{ERRORS_BASE}#unauthorized",
        "Unauthorized",
        "You did not provide correct credentials.",
    )


def _throttled() -> Problem:
    return Problem(
        429, f"{ERRORS_BASE}#throttled", "Rate Limit Hit", "Please wait, then retry your request"
    )


def _optional(body: Mapping[str, Any], name: str, max_len: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise _invalid(name, f"must be a string of 1 to {max_len} characters")
    return value


def _required(body: Mapping[str, Any], name: str, max_len: int) -> str:
    value = _optional(body, name, max_len)
    if value is None:
        raise _invalid(name, "is required")
    return value


def _object(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise _invalid(name, "must be an object")
    return value


def _url(resource: Mapping[str, Any], kind: str, name: str, max_len: int = 2000) -> str:
    url = _required(resource, name, max_len)
    if not url.startswith(("http://", "https://")):
        raise _invalid(f"{kind}.{name}", "must be an http(s) URL")
    return url


def _count(options: Mapping[str, Any], name: str, most: int) -> int:
    """A video's `duration` (s) or `file_size` (MB): Vonage takes them as strings."""
    value = options.get(name)
    if not isinstance(value, str) or not value.isdigit() or not 1 <= int(value) <= most:
        raise _invalid(f"viber_service.{name}", f"must be a number from 1 to {most}")
    return int(value)


async def check_media(fetcher: MediaFetcher, message: Received) -> None:
    """Fetch the message's media as Viber does before it takes it: every URL must answer
    200; an image must be an image, a video's host must give its `Content-Length`."""
    wanted = [
        ("image.url", message.image, IMAGE_TYPES),
        ("video.url", message.video, ("video/mp4",)),
        ("video.thumb_url", message.thumbnail, IMAGE_TYPES),
        ("file.url", message.file, None),
    ]
    for name, url, types in wanted:
        if url is None:
            continue
        found = await fetcher.check(url)
        if isinstance(found, MediaRefused):
            raise _invalid(name, found.reason)
        if types is not None and found.content_type not in types:
            raise _invalid(name, f"{found.content_type or 'no type'} is not allowed here")
        if name == "video.url" and found.length is None:
            raise _invalid(name, "the video's host gives no Content-Length")


def accept(sim: VonageSimulator, api_key: str, body: object) -> Received:
    """Check a `POST /v1/messages` body as Vonage does; the accepted message, or `Problem`."""
    if not isinstance(body, dict):
        raise _invalid("body", "must be a JSON object")
    if body.get("channel") != PROVIDER_CHANNEL:
        raise _invalid("channel", "this simulator speaks viber_service only")
    kind = body.get("message_type")
    if kind not in MESSAGE_TYPES:
        raise _invalid("message_type", "must be text, image, video or file")
    to = body.get("to")
    if not isinstance(to, str) or not _TO.fullmatch(to):
        raise _invalid("to", "must be an E.164 number without a leading + or 00")
    sender = _required(body, "from", MAX_FROM)
    if sim.service_ids and sender not in sim.service_ids:
        raise _invalid("from", "unknown Viber service id", code=1420)
    client_ref = _optional(body, "client_ref", MAX_CLIENT_REF)
    text: str | None = None
    media: dict[str, Any] = {}
    options = _object(body, "viber_service") or {}
    if kind == "text":
        text = _required(body, "text", MAX_TEXT)
    else:
        if "text" in body:
            # only a text message has `text`; an image's or a video's goes in its caption
            raise _invalid("text", f"belongs to a text message, not to {kind}")
        resource = _object(body, kind)
        if resource is None:
            raise _invalid(kind, "is required")
        if kind == "file" and "caption" in resource:
            # Vonage's file message is `{url, name}`: a text goes as a message of its own
            raise _invalid("file.caption", "a file message has no caption")
        media[kind] = _url(resource, kind, "url")
        if kind in ("image", "video"):
            text = _optional(resource, "caption", MAX_TEXT)
        if kind == "video":
            media["thumbnail"] = _url(resource, kind, "thumb_url", MAX_THUMB_URL)
            media["duration_s"] = _count(options, "duration", MAX_DURATION_S)
            media["file_size_mb"] = _count(options, "file_size", MAX_VIDEO_MB)
        if kind == "file":
            name = _optional(resource, "name", MAX_FILE_NAME)
            media["file_name"] = name
            shown = name or media["file"].rsplit("/", 1)[-1].split("?", 1)[0]
            extension = shown.rsplit(".", 1)[-1].lower() if "." in shown else ""
            if extension not in FILE_TYPES:
                raise _invalid("file.name", f"the file type {extension!r} is not allowed")
    category = options.get("category")
    if category is not None and category not in ("transaction", "promotion"):
        raise _invalid("viber_service.category", "must be transaction or promotion")
    ttl = options.get("ttl", DEFAULT_TTL_S)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not MIN_TTL_S <= ttl <= MAX_TTL_S:
        raise _invalid("viber_service.ttl", f"must be {MIN_TTL_S} to {MAX_TTL_S}", code=1130)
    button: dict[str, str] | None = None
    action = _object(options, "action")
    if action is not None:
        button = {
            "text": _required(action, "text", MAX_BUTTON_TEXT),
            "url": _required(action, "url", 2000),
        }
    return Received(
        message_uuid=str(uuid.uuid4()),
        api_key=api_key,
        to=to,
        phone="+" + to,
        sender=sender,
        message_type=str(kind),
        text=text,
        category=category,
        ttl=ttl,
        button=button,
        client_ref=client_ref,
        at_ms=_now_ms(),
        image=media.get("image"),
        **{k: v for k, v in media.items() if k != "image"},
    )


def _problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        msgspec.json.encode(problem.body),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


# --- the app -----------------------------------------------------------------------------------


def create_app(
    simulator: VonageSimulator | None = None,
    *,
    accounts: Mapping[str, str] | None = None,
    partner: PartnerSimulator | None = None,
) -> Litestar:
    """The simulator as an ASGI app; `accounts` maps api keys to api secrets. Viber's own
    partner API (`partner.py`) is served beside Vonage's, over the same phone scripts."""
    sim = simulator if simulator is not None else VonageSimulator()
    viber = partner if partner is not None else PartnerSimulator(scripts=sim.scripts)
    for key, secret in (accounts or {}).items():
        sim.add_account(key, secret)

    @post(SEND_PATH, status_code=200)
    async def partner_send(request: Request[Any, Any, Any]) -> Response[bytes]:
        answer = await viber.answer(
            request.client.host if request.client else None, await request.body()
        )
        return Response(msgspec.json.encode(answer), media_type="application/json")

    @post("/_sim/partner/webhook", status_code=200)
    async def set_partner_webhook(data: JSONBody[PartnerWebhook]) -> dict[str, str]:
        if not data.url.startswith(("http://", "https://")):
            raise HTTPException(status_code=400, detail="url is an http(s) URL")
        viber.callback_url = data.url
        return {"url": data.url}

    @put("/_sim/partner/templates", status_code=200)
    async def register_templates(data: JSONBody[list[TemplateIn]]) -> dict[str, list[str]]:
        try:
            viber.register(
                [
                    Template(t.id, tuple(t.languages), tuple(t.required), tuple(t.optional))
                    for t in data
                ]
            )
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        return {"templates": sorted(viber.templates)}

    @post("/v1/messages", status_code=202)
    async def send_message(request: Request[Any, Any, Any]) -> Response[bytes]:
        api_key = sim.authenticate(request.headers.get("authorization"))
        if api_key is None:
            return _problem_response(_unauthorized())
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            return _problem_response(_invalid("body", "is not valid JSON"))
        try:
            message = accept(sim, api_key, body)
            await check_media(sim.media, message)
        except Problem as problem:
            return _problem_response(problem)
        behaviour = sim.scripts.get(message.phone)
        if behaviour.throttle:
            retry_after = max(1, round(behaviour.retry_after_s))
            return _problem_response(_throttled(), {"Retry-After": str(retry_after)})
        sim.received.append(message)
        sim.schedule_statuses(message, behaviour)
        return Response(
            msgspec.json.encode({"message_uuid": message.message_uuid}),
            status_code=202,
            media_type="application/json",
        )

    @post("/_sim/webhook", status_code=200)
    async def set_webhook(data: JSONBody[WebhookSettings]) -> dict[str, str]:
        api_key = data.api_key
        if api_key is None:
            if len(sim.accounts) != 1:
                raise HTTPException(status_code=400, detail="name the account with api_key")
            api_key = next(iter(sim.accounts))
        if api_key not in sim.accounts:
            raise HTTPException(status_code=404, detail="no such account")
        if not data.url.startswith(("http://", "https://")) or not data.signature_secret:
            raise HTTPException(status_code=400, detail="url and signature_secret are required")
        if data.inbound_url is not None and not data.inbound_url.startswith(
            ("http://", "https://")
        ):
            raise HTTPException(status_code=400, detail="inbound_url is not an http(s) URL")
        sim.set_target(api_key, data.url, data.signature_secret, data.inbound_url)
        return {"api_key": api_key, "url": data.url}

    @post("/_sim/users/{phone:str}/reply", status_code=200)
    async def user_reply(phone: FromPath[str], text: FromQuery[str] = "") -> InboundSent:
        if not text:
            raise HTTPException(status_code=400, detail="text is required")
        try:
            return await sim.reply(e164(phone), text)
        except LookupError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None

    return Litestar(
        logging_config=None,  # the process's own logging stands (`cascade up`: text or JSON)
        route_handlers=[
            send_message,
            set_webhook,
            partner_send,
            set_partner_webhook,
            register_templates,
            *control_routes(
                set_script=sim.scripts.set,
                reset=sim.scripts.clear,
                received=sim.received,
                logs={
                    "callbacks": sim.callbacks,
                    "inbound": sim.inbound,
                    "partner_received": viber.received,
                    "partner_callbacks": viber.callbacks,
                },
            ),
            user_reply,
        ],
        on_startup=[sim.start, viber.start],
        on_shutdown=[sim.stop, viber.stop],
        openapi_config=None,
    )
