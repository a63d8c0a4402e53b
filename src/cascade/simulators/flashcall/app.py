"""A stand-in for Twilio Programmable Voice's Calls API (`api.twilio.com/2010-04-01/…`).

It answers `POST /2010-04-01/Accounts/{AccountSid}/Calls.json` as Twilio does: HTTP Basic
auth (AccountSid:AuthToken), a form body, `201` with the Call resource (`sid` "CA…",
`status` "queued"), or `4xx` with `{"code", "message", "more_info", "status"}`. It then
reports the call's progress to the request's `StatusCallback` as Twilio does: a signed
form POST (`X-Twilio-Signature`, base64 HMAC-SHA1 keyed by the auth token over the URL and
the sorted parameters) for each event named in `StatusCallbackEvent` (only `completed`
when none is named). `POST …/Calls/{CallSid}.json` with `Status=canceled` cancels a call
still queued or ringing.

What a call to a phone comes to follows the phone's `Behaviour` on "flashcall":

| Behaviour | Call |
|---|---|
| `throttle` | `429`, code 20429; no call |
| not `reachable`, `blocked` or `fail` | `failed` after `deliver_after_ms` |
| `reachable`, `deliver_after_ms` = None | rings forever: no terminal callback |
| `reachable` | `ringing` after `deliver_after_ms`, then `no-answer` after `ring_ms` |
| `reachable` and `read_after_ms` set | picked up: `in-progress`, then `completed` |

A call's `From` is a number the account may call from: one of its own numbers (a block of
them, `number_blocks`: the installation's caller prefix) or a caller id it verified
(`POST …/OutgoingCallerIds.json` with `PhoneNumber`, verified at once here; `GET` lists
them); anything else is refused with 21210. An account that has registered neither may
call from any E.164 number. The code a flash call carries is `From`'s last digits: each
call keeps its `from`, shown in `/_sim/received`.

The real service rings for the request's `Timeout` seconds before `no-answer`; here the
phone rings for the simulator's `ring_ms`, so tests and the demo stay fast.

Test and demo controls live under `/_sim/` (never on the real service):

| Method | Path | What |
|---|---|---|
| PUT | `/_sim/script/{phone}` | set the phone's `Behaviour` (JSON) |
| DELETE | `/_sim/script` | forget every script |
| GET, DELETE | `/_sim/received` | calls placed (`?phone=`) / forget them and callbacks |
| GET | `/_sim/callbacks` | every status callback posted, with the webhook's HTTP answer |
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from operator import attrgetter
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath

from cascade.simulators.control import control_routes
from cascade.simulators.phones import is_e164
from cascade.simulators.script import Behaviour, Scripts
from cascade.simulators.webhook_caller import WebhookCaller, WebhookFailed

log = logging.getLogger(__name__)

API_VERSION: Final = "2010-04-01"
EVENTS: Final = ("initiated", "ringing", "answered", "completed")
MAX_TIMEOUT_S: Final = 600
_JSON: Final = "application/json"


def sign(url: str, params: Sequence[tuple[str, str]], token: str) -> str:
    """Twilio's request signature: the URL, then each parameter by name order, name+value."""
    data = url
    for name, value in sorted(params):
        data += name + value
    mac = hmac.new(token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _rfc2822(at_ms: int) -> str:
    return format_datetime(datetime.fromtimestamp(at_ms / 1000, tz=UTC))


# --- state --------------------------------------------------------------------------------


class Call(msgspec.Struct, kw_only=True, rename={"from_": "from"}):
    """One call the simulator accepted."""

    sid: str
    account_sid: str
    to: str
    from_: str  # the caller number: a flash call's code is its last digits
    twiml: str | None
    url: str | None
    timeout: int
    status_callback: str | None
    events: list[str]
    status: str
    at_ms: int
    ended_at_ms: int | None = None


class CallerId(msgspec.Struct, kw_only=True):
    """An OutgoingCallerId: a number the account verified it may call from."""

    sid: str
    account_sid: str
    phone_number: str
    friendly_name: str


class CallbackSent(msgspec.Struct, kw_only=True):
    """One status callback the simulator posted, and the webhook's answer (None: none)."""

    call_sid: str
    call_status: str
    sequence: int
    http_status: int | None
    at_ms: int


@dataclass
class FlashCallSimulator(WebhookCaller):
    """Everything the simulator knows; one instance serves one app."""

    accounts: dict[str, str] = field(default_factory=dict, repr=False)  # sid -> auth token
    scripts: Scripts = field(default_factory=lambda: Scripts("flashcall"))
    calls: list[Call] = field(default_factory=list)
    callbacks: list[CallbackSent] = field(default_factory=list)
    ring_ms: int = 100  # how long a reachable phone rings before the call ends unanswered
    # the numbers each account may call from: its own number blocks (prefixes) and the
    # caller ids it verified; an account that has neither may call from any number
    number_blocks: dict[str, set[str]] = field(default_factory=dict)
    caller_ids: dict[str, dict[str, CallerId]] = field(default_factory=dict)
    _sequence: dict[str, int] = field(default_factory=dict, init=False)

    def add_account(self, account_sid: str, auth_token: str) -> None:
        self.accounts[account_sid] = auth_token

    def add_number_block(self, account_sid: str, prefix: str) -> None:
        """The account owns every number that starts with `prefix`."""
        self.number_blocks.setdefault(account_sid, set()).add(prefix)

    def verify_caller_id(self, account_sid: str, number: str, name: str = "") -> CallerId:
        """The account proved it owns `number` (Twilio's validation call, answered at once
        here): it may call from it from now on."""
        known = self.caller_ids.setdefault(account_sid, {})
        if number not in known:
            known[number] = CallerId(
                sid="PN" + secrets.token_hex(16),
                account_sid=account_sid,
                phone_number=number,
                friendly_name=name or number,
            )
        return known[number]

    def may_call_from(self, account_sid: str, number: str) -> bool:
        blocks = self.number_blocks.get(account_sid, set())
        verified = self.caller_ids.get(account_sid, {})
        if not blocks and not verified:
            return True
        return number in verified or any(number.startswith(p) for p in blocks)

    def call(self, sid: str) -> Call | None:
        return next((c for c in self.calls if c.sid == sid), None)

    # --- status callbacks --------------------------------------------------------------

    async def report(self, call: Call, status: str, **extra: str) -> int | None:
        """Set the call's status and POST one signed status callback (one try, as Twilio
        makes by default). Returns the webhook's HTTP status (None: no answer)."""
        call.status = status
        if status in ("completed", "busy", "no-answer", "failed", "canceled"):
            call.ended_at_ms = _now_ms()
        if not call.status_callback:
            return None
        sequence = self._sequence.get(call.sid, 0)
        self._sequence[call.sid] = sequence + 1
        at = _now_ms()
        params = [
            ("AccountSid", call.account_sid),
            ("ApiVersion", API_VERSION),
            ("CallSid", call.sid),
            ("CallStatus", status),
            ("Called", call.to),
            ("Caller", call.from_),
            ("Direction", "outbound-api"),
            ("From", call.from_),
            ("To", call.to),
            ("Timestamp", _rfc2822(at)),
            ("CallbackSource", "call-progress-events"),
            ("SequenceNumber", str(sequence)),
            *extra.items(),
        ]
        token = self.accounts.get(call.account_sid, "")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(call.status_callback, params, token),
            "User-Agent": "TwilioProxy/1.1",
        }
        http_status: int | None
        try:
            response = await self.post(call.status_callback, urlencode(params), headers)
            http_status = response.status_code
        except WebhookFailed as exc:
            log.info("flashcall simulator: %s callback failed: %s", status, exc)
            http_status = None
        self.callbacks.append(
            CallbackSent(
                call_sid=call.sid,
                call_status=status,
                sequence=sequence,
                http_status=http_status,
                at_ms=at,
            )
        )
        return http_status

    def place(self, call: Call, behaviour: Behaviour) -> None:
        self.spawn(self._progress(call, behaviour), key=call.sid)

    async def cancel(self, call: Call) -> bool:
        """Cancel a call that has not ended; False when it has."""
        if call.ended_at_ms is not None or call.status == "in-progress":
            return False
        task = self.withdraw(call.sid)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._event(call, "completed", "canceled", CallDuration="0")
        return True

    async def _event(self, call: Call, event: str, status: str, **extra: str) -> None:
        if event in call.events:
            await self.report(call, status, **extra)
        else:
            call.status = status
            if event == "completed":
                call.ended_at_ms = _now_ms()

    async def _progress(self, call: Call, behaviour: Behaviour) -> None:
        await self._event(call, "initiated", "initiated")
        delay_s = (behaviour.deliver_after_ms or 0) / 1000
        if not behaviour.reachable or behaviour.blocked or behaviour.fail:
            await asyncio.sleep(delay_s)
            sip = "603" if behaviour.blocked else "500" if behaviour.fail else "404"
            await self._event(call, "completed", "failed", CallDuration="0", SipResponseCode=sip)
            return
        if behaviour.deliver_after_ms is None:
            return  # the phone never rings back an answer: the call stays queued
        await asyncio.sleep(delay_s)
        await self._event(call, "ringing", "ringing")
        await asyncio.sleep(self.ring_ms / 1000)
        if behaviour.read_after_ms is not None:
            # picked up: the call's TwiML (<Hangup/>) ends it at once
            await self._event(call, "answered", "in-progress")
            await self._event(call, "completed", "completed", CallDuration="1")
            return
        await self._event(call, "completed", "no-answer", CallDuration="0", SipResponseCode="487")


# --- the Calls API -----------------------------------------------------------------------------


def _error(http_status: int, code: int, message: str) -> Response[bytes]:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": http_status,
    }
    return Response(msgspec.json.encode(body), status_code=http_status, media_type=_JSON)


def _authenticated(
    sim: FlashCallSimulator, request: Request[Any, Any, Any], account_sid: str
) -> bool:
    raw = request.headers.get("authorization", "")
    scheme, _, encoded = raw.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    token = sim.accounts.get(user)
    return (
        token is not None
        and user == account_sid
        and hmac.compare_digest(token.encode(), password.encode())
    )


def _resource(call: Call) -> dict[str, Any]:
    created = _rfc2822(call.at_ms)
    uri = f"/{API_VERSION}/Accounts/{call.account_sid}/Calls/{call.sid}.json"
    return {
        "sid": call.sid,
        "account_sid": call.account_sid,
        "api_version": API_VERSION,
        "to": call.to,
        "to_formatted": call.to,
        "from": call.from_,
        "from_formatted": call.from_,
        "status": call.status,
        "direction": "outbound-api",
        "date_created": created,
        "date_updated": created,
        "start_time": None,
        "end_time": _rfc2822(call.ended_at_ms) if call.ended_at_ms else None,
        "duration": None,
        "price": None,
        "price_unit": "USD",
        "answered_by": None,
        "caller_name": None,
        "forwarded_from": None,
        "parent_call_sid": None,
        "queue_time": "0",
        "uri": uri,
    }


def _create_call(
    sim: FlashCallSimulator, account_sid: str, form: Mapping[str, list[str]]
) -> Response[bytes]:
    def one(name: str) -> str:
        values = form.get(name) or [""]
        return values[-1]

    to, caller = one("To"), one("From")
    if not to:
        return _error(400, 21201, "No 'To' number is specified")
    if not caller:
        return _error(400, 21213, "No 'From' number is specified")
    if not one("Url") and not one("Twiml") and not one("ApplicationSid"):
        return _error(400, 21205, "Url parameter is required")
    if not is_e164(to):
        return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    if not is_e164(caller):
        return _error(
            400,
            21210,
            f"The source phone number provided, {caller}, is not yet verified for your account.",
        )
    if not sim.may_call_from(account_sid, caller):
        return _error(
            400,
            21210,
            f"The source phone number provided, {caller}, is not yet verified for your account.",
        )
    raw_timeout = one("Timeout") or "60"
    if not raw_timeout.isascii() or not raw_timeout.isdigit():
        return _error(400, 21208, "Timeout must be a positive integer")
    timeout = int(raw_timeout)
    if not 1 <= timeout <= MAX_TIMEOUT_S:
        return _error(400, 21208, f"Timeout must be between 1 and {MAX_TIMEOUT_S}")
    events: list[str] = []
    for value in form.get("StatusCallbackEvent", []):
        events.extend(value.split())  # a list of values, or one space-separated value
    if any(e not in EVENTS for e in events):
        return _error(400, 21626, "Invalid 'StatusCallbackEvent'")
    callback = one("StatusCallback") or None
    if callback is not None and not callback.startswith(("http://", "https://")):
        return _error(400, 21205, "StatusCallback is not a valid URL")
    behaviour = sim.scripts.get(to)
    if behaviour.throttle:
        return _error(429, 20429, "Too Many Requests")
    call = Call(
        sid="CA" + secrets.token_hex(16),
        account_sid=account_sid,
        to=to,
        from_=caller,
        twiml=one("Twiml") or None,
        url=one("Url") or None,
        timeout=timeout,
        status_callback=callback,
        events=events or ["completed"],
        status="queued",
        at_ms=_now_ms(),
    )
    sim.calls.append(call)
    body = msgspec.json.encode(_resource(call))  # before the call moves on
    sim.place(call, behaviour)
    return Response(body, status_code=201, media_type=_JSON)


async def _form(request: Request[Any, Any, Any]) -> dict[str, list[str]] | None:
    try:
        text = (await request.body()).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        return None
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


# --- the app -----------------------------------------------------------------------------------


def create_app(
    simulator: FlashCallSimulator | None = None,
    *,
    accounts: Mapping[str, str] | None = None,
    number_blocks: Mapping[str, str] | None = None,
) -> Litestar:
    """The simulator as an ASGI app; `accounts` maps AccountSids to auth tokens,
    `number_blocks` an AccountSid to the prefix of the numbers it owns."""
    sim = simulator if simulator is not None else FlashCallSimulator()
    for account_sid, token in (accounts or {}).items():
        sim.add_account(account_sid, token)
    for account_sid, prefix in (number_blocks or {}).items():
        sim.add_number_block(account_sid, prefix)

    @post(f"/{API_VERSION}/Accounts/{{account_sid:str}}/Calls.json")
    async def create_call(
        account_sid: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        if not _authenticated(sim, request, account_sid):
            return _error(401, 20003, "Authenticate")
        form = await _form(request)
        if form is None:
            return _error(400, 21200, "The request body is not a form")
        return _create_call(sim, account_sid, form)

    @post(f"/{API_VERSION}/Accounts/{{account_sid:str}}/Calls/{{resource:str}}")
    async def update_call(
        account_sid: FromPath[str], resource: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        if not _authenticated(sim, request, account_sid):
            return _error(401, 20003, "Authenticate")
        call = sim.call(resource.removesuffix(".json"))
        if not resource.endswith(".json") or call is None or call.account_sid != account_sid:
            return _error(404, 20404, "The requested resource was not found")
        form = await _form(request)
        status = (form or {}).get("Status", [""])[-1]
        if status != "canceled":
            return _error(400, 21200, "Only Status=canceled is simulated")
        if not await sim.cancel(call):
            return _error(400, 21220, "Call is not in a state that can be canceled")
        return Response(msgspec.json.encode(_resource(call)), status_code=200, media_type=_JSON)

    callers_path = f"/{API_VERSION}/Accounts/{{account_sid:str}}/OutgoingCallerIds.json"

    @post(callers_path)
    async def verify_caller_id(
        account_sid: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        if not _authenticated(sim, request, account_sid):
            return _error(401, 20003, "Authenticate")
        form = await _form(request) or {}
        number = (form.get("PhoneNumber") or [""])[-1]
        if not is_e164(number):
            return _error(400, 21450, "Phone number is invalid")
        name = (form.get("FriendlyName") or [""])[-1]
        known = sim.verify_caller_id(account_sid, number, name)
        # Twilio answers with a validation request, then calls the number for its code;
        # here the number counts as verified at once
        body = {
            "account_sid": account_sid,
            "call_sid": "CA" + secrets.token_hex(16),
            "friendly_name": known.friendly_name,
            "phone_number": number,
            "validation_code": f"{secrets.randbelow(10**6):06d}",
        }
        return Response(msgspec.json.encode(body), status_code=201, media_type=_JSON)

    @get(callers_path)
    async def list_caller_ids(
        account_sid: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        if not _authenticated(sim, request, account_sid):
            return _error(401, 20003, "Authenticate")
        known = sim.caller_ids.get(account_sid, {})
        body = {"outgoing_caller_ids": [msgspec.to_builtins(c) for c in known.values()]}
        return Response(msgspec.json.encode(body), status_code=200, media_type=_JSON)

    return Litestar(
        logging_config=None,  # the process's own logging stands (`cascade up`: text or JSON)
        route_handlers=[
            create_call,
            update_call,
            verify_caller_id,
            list_caller_ids,
            *control_routes(
                set_script=sim.scripts.set,
                reset=sim.scripts.clear,
                received=sim.calls,
                phone_of=attrgetter("to"),
                logs={"callbacks": sim.callbacks},
            ),
        ],
        on_startup=[sim.start],
        on_shutdown=[sim.stop],
        openapi_config=None,
    )
