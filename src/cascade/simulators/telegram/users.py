"""The simulated Telegram users: one per phone, and how the Bot API shows them.

A user's id, which is also the id of their private chat with a bot, is
`CHAT_ID_OFFSET + the phone's digits`: stable, reversible, and never equal to the digits,
so a caller that skips the contact-linking step fails loudly.
"""

from __future__ import annotations

import re
from typing import Any

CHAT_ID_OFFSET = 10**15  # E.164 has at most 15 digits, so ids stay below 2**53

Json = dict[str, Any]


def chat_id_for(phone: str) -> int:
    """The simulated user's (and private chat's) id for a phone number."""
    digits = re.sub(r"\D", "", phone)
    if not digits:
        raise ValueError("a phone number needs digits")
    return CHAT_ID_OFFSET + int(digits)


def phone_for(chat_id: int) -> str | None:
    """The phone behind a simulated private chat, or None for an id no user has."""
    digits = chat_id - CHAT_ID_OFFSET
    return f"+{digits}" if 0 < digits < CHAT_ID_OFFSET else None


def bot_user(bot_id: int) -> Json:
    return {
        "id": bot_id,
        "is_bot": True,
        "first_name": f"Cascade Sim Bot {bot_id}",
        "username": f"cascade_sim_{bot_id}_bot",
        "can_join_groups": False,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


def user(phone: str) -> Json:
    return {
        "id": chat_id_for(phone),
        "is_bot": False,
        "first_name": f"User {phone[-4:]}",
        "language_code": "en",
    }


def chat(phone: str) -> Json:
    return {"id": chat_id_for(phone), "first_name": f"User {phone[-4:]}", "type": "private"}
