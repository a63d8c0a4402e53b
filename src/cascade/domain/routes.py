"""Routes (SPEC B1): which channels a message tries, in which order."""

from __future__ import annotations

from collections.abc import Sequence

from cascade.domain.message import MessageType, Route

TELEGRAM = "telegram"
VIBER_BOT = "viber_bot"
VIBER_BUSINESS = "viber_business"
RCS = "rcs"
SMS = "sms"
FLASHCALL = "flashcall"

ALL_CHANNELS = (TELEGRAM, VIBER_BOT, VIBER_BUSINESS, RCS, SMS, FLASHCALL)

_ROUTES: dict[Route, tuple[str, ...]] = {
    Route.STANDARD: (TELEGRAM, VIBER_BOT, VIBER_BUSINESS, RCS, SMS),
    Route.TG_VIBER: (TELEGRAM, VIBER_BOT, VIBER_BUSINESS, SMS),
}
_SURVEY = (VIBER_BOT, VIBER_BUSINESS, SMS)
_FLASHCALL = (FLASHCALL,)


def steps(
    route: Route, message_type: MessageType, order: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The channels a message tries, in order.

    `order`, when an account sets one, reorders and filters the route: channels it leaves
    out are switched off for the account; a survey and a flash call keep their own route.
    """
    if message_type is MessageType.FLASHCALL:
        return _FLASHCALL
    base = _SURVEY if message_type is MessageType.VIBER_SURVEY else _ROUTES[route]
    if order is None:
        return base
    return tuple(channel for channel in order if channel in base)
