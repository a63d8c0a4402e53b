"""The sandbox personas (SPEC C): who the demo's recipients are, by the phone's last digit.

Every simulator follows them — a phone ending in 1 is a Telegram user, in 6 a plain phone,
in 7 unreachable everywhere — so the demo shows every path of the cascade. `cascade up`
prints them with its banner.
"""

from __future__ import annotations

PERSONAS = {
    "+380501230001": "Telegram user: delivered by telegram",
    "+380501230002": "blocked the Telegram bot, Viber bot subscriber: delivered by viber_bot",
    "+380501230003": "Viber user, not a bot subscriber: delivered by viber_business",
    "+380501230004": "RCS-capable Android: delivered by rcs",
    "+380501230005": "Viber subscriber whose phone never confirms: windows end, then sms",
    "+380501230006": "plain phone: delivered by sms",
    "+380501230007": "unreachable everywhere: undeliverable (SMS receipt UNDELIV)",
    "+380501230008": "switched off: expired when the TTL is shorter than 10 minutes",
    "+380501230009": "Viber subscriber who reads at once (read via viber_bot); takes flash calls",
}
