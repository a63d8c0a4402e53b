"""Per-phone behaviour shared by every simulator, and the sandbox personas (SPEC Part C).

Without an explicit script a simulator reads the recipient's last digit:

| digit | persona |
|---|---|
| 1 | Telegram user (chat known) |
| 2 | blocked the Telegram bot; subscribed to the Viber bot |
| 3 | Viber user, not a bot subscriber (reached by Viber Business) |
| 4 | RCS-capable Android, no messengers |
| 5 | Viber bot subscriber whose phone never confirms |
| 6, 0 | plain phone (SMS) |
| 7 | unreachable everywhere (SMS receipt UNDELIV) |
| 8 | switched off: SMS receipt only after 10 minutes |
| 9 | no Telegram; Viber bot subscriber who reads at once; answers flash calls |

Every phone but 7 and 8 gets SMS delivered (receipt DELIVRD after 50 ms); 3 and 5 are
Viber users for Viber Business too (5 never confirms); only 9 takes flash calls.

Tests replace a phone's behaviour through each simulator's `PUT /_sim/script/{phone}`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import msgspec


class Behaviour(msgspec.Struct, frozen=True, kw_only=True):
    """What one phone does on one simulated platform."""

    reachable: bool = False  # has a chat / is subscribed / is a user of the platform
    blocked: bool = False  # blocked the bot or sender
    deliver_after_ms: int | None = 0  # None: never confirms delivery
    read_after_ms: int | None = None  # None: never reads
    fail: bool = False  # the provider reports the message failed
    throttle: bool = False  # the provider answers "too many requests"
    fail_reason: str = "failed"
    retry_after_s: float = 3.0  # how long a throttling answer asks to wait
    receipt: str = "DELIVRD"  # SMS: the final state a receipt reports (UNDELIV, EXPIRED…)
    drop_connection: bool = False  # SMS: the SMSC drops the session on this submit
    registered: bool = True  # Viber: the phone has Viber at all (else "not a Viber user")
    no_device: bool = False  # Viber: no device that can show business messages


PLATFORMS = ("telegram", "viber", "viber_business", "rcs", "sms", "flashcall")


@dataclass(frozen=True, slots=True)
class Persona:
    telegram: Behaviour
    viber: Behaviour  # the Viber bot
    viber_business: Behaviour
    rcs: Behaviour
    sms: Behaviour
    flashcall: Behaviour

    def on(self, platform: str) -> Behaviour:
        behaviour: Behaviour = getattr(self, platform)
        return behaviour


_NOBODY = Behaviour()
_NOT_ON_VIBER = Behaviour(registered=False)
_NEVER = Behaviour(reachable=True, deliver_after_ms=None)
_SMS = Behaviour(reachable=True, deliver_after_ms=50)
_CALLS = Behaviour(reachable=True, deliver_after_ms=50)


def persona(phone: str) -> Persona:
    """The default behaviour of a phone on every simulated platform, from its last digit."""
    digit = phone[-1:] or "0"
    base = Persona(
        telegram=_NOBODY,
        viber=_NOBODY,
        viber_business=_NOT_ON_VIBER,
        rcs=_NOBODY,
        sms=_SMS,
        flashcall=_NOBODY,
    )
    if digit == "1":
        return replace(base, telegram=Behaviour(reachable=True))
    if digit == "2":
        return replace(
            base,
            telegram=Behaviour(reachable=True, blocked=True),
            viber=Behaviour(reachable=True, deliver_after_ms=50),
            viber_business=Behaviour(reachable=True, deliver_after_ms=50),
        )
    if digit == "3":
        return replace(base, viber_business=Behaviour(reachable=True, deliver_after_ms=50))
    if digit == "4":
        return replace(base, rcs=Behaviour(reachable=True, deliver_after_ms=50))
    if digit == "5":
        return replace(base, viber=_NEVER, viber_business=_NEVER)
    if digit == "7":
        return replace(base, sms=Behaviour(reachable=True, deliver_after_ms=50, receipt="UNDELIV"))
    if digit == "8":
        return replace(base, sms=Behaviour(reachable=True, deliver_after_ms=600_000))
    if digit == "9":
        return replace(
            base,
            viber=Behaviour(reachable=True, deliver_after_ms=50, read_after_ms=100),
            viber_business=Behaviour(reachable=True, deliver_after_ms=50, read_after_ms=100),
            flashcall=_CALLS,
        )
    return base  # 6, 0: a plain phone


class Scripts:
    """Explicit per-phone behaviour, falling back to the persona."""

    def __init__(self, platform: str) -> None:
        if platform not in PLATFORMS:
            raise ValueError(platform)
        self._platform = platform
        self._explicit: dict[str, Behaviour] = {}

    def set(self, phone: str, behaviour: Behaviour) -> None:
        self._explicit[phone] = behaviour

    def clear(self) -> None:
        self._explicit.clear()

    def get(self, phone: str) -> Behaviour:
        explicit = self._explicit.get(phone)
        if explicit is not None:
            return explicit
        return persona(phone).on(self._platform)


# --- what a Viber Business phone does with a message ---------------------------------------


def viber_business_refusal(
    behaviour: Behaviour, *, not_user: int, blocked: int, no_device: int, unknown: int
) -> int | None:
    """The code a Viber Business provider refuses a phone's messages with (each provider
    numbers them its own way), or None when the phone takes them. A scripted failure
    whose reason is a number is that code."""
    if not (behaviour.registered and behaviour.reachable):
        return not_user
    if behaviour.blocked:
        return blocked
    if behaviour.no_device:
        return no_device
    if behaviour.fail:
        reason = behaviour.fail_reason.strip()
        return int(reason) if reason.isdigit() else unknown
    return None


async def viber_business_receipts(
    behaviour: Behaviour, ttl_s: int, post: Callable[[str], Awaitable[object]]
) -> None:
    """What a phone that takes a business message reports, in time: `post("delivered")`
    after its delay, then `post("read")` if it reads; `post("expired")` when delivery
    would come after the TTL; nothing when it never confirms."""
    delay_ms = behaviour.deliver_after_ms
    if delay_ms is None:
        return
    if delay_ms > ttl_s * 1000:
        await asyncio.sleep(ttl_s)
        await post("expired")
        return
    await asyncio.sleep(delay_ms / 1000)
    await post("delivered")
    if behaviour.read_after_ms is not None:
        await asyncio.sleep(max(behaviour.read_after_ms - delay_ms, 0) / 1000)
        await post("read")
