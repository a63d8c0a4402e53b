"""The flash-call channel's settings, each read from `CASCADE_{FIELD}` (see channels.spec)."""

from __future__ import annotations

from dataclasses import dataclass

from cascade.channels.flashcall.client import DEFAULT_BASE_URL
from cascade.channels.spec import setting


@dataclass(frozen=True, slots=True)
class FlashCallSettings:
    flashcall_api_url: str = setting(DEFAULT_BASE_URL, "Twilio API base URL")
    flashcall_account_sid: str = setting("", "Twilio AccountSid")
    flashcall_auth_token: str = setting(
        "", "Twilio AuthToken (also checks status callback signatures)"
    )
    flashcall_caller_prefix: str = setting("", "caller numbers are this prefix + the code's digits")
    flashcall_code_length: int = setting(4, "digits of a flash-call code (4-6)")
