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

Tests replace a phone's behaviour through each simulator's `PUT /_sim/script/{phone}`.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Persona:
    telegram: Behaviour
    viber: Behaviour


_NOBODY = Behaviour()
_NEVER = Behaviour(reachable=True, deliver_after_ms=None)


def persona(phone: str) -> Persona:
    """The default behaviour of a phone on the bot platforms, from its last digit."""
    digit = phone[-1:] or "0"
    if digit == "1":
        return Persona(telegram=Behaviour(reachable=True), viber=_NOBODY)
    if digit == "2":
        return Persona(
            telegram=Behaviour(reachable=True, blocked=True),
            viber=Behaviour(reachable=True, deliver_after_ms=50),
        )
    if digit == "5":
        return Persona(telegram=_NOBODY, viber=_NEVER)
    if digit == "9":
        return Persona(
            telegram=_NOBODY,
            viber=Behaviour(reachable=True, deliver_after_ms=50, read_after_ms=100),
        )
    return Persona(telegram=_NOBODY, viber=_NOBODY)


class Scripts:
    """Explicit per-phone behaviour, falling back to the persona."""

    def __init__(self, platform: str) -> None:
        if platform not in ("telegram", "viber"):
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
        p = persona(phone)
        return p.telegram if self._platform == "telegram" else p.viber
