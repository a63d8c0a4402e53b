"""The SMS channel's settings, each read from `CASCADE_{FIELD}` (see channels.spec)."""

from __future__ import annotations

from dataclasses import dataclass

from cascade.channels.spec import setting


@dataclass(frozen=True, slots=True)
class SmsSettings:
    smpp_host: str = setting("127.0.0.1", "SMSC host")
    smpp_port: int = setting(2775, "SMSC port")
    smpp_system_id: str = setting("", "SMPP system_id")
    smpp_password: str = setting("", "SMPP password")
    smpp_system_type: str = setting("", "SMPP system_type")
    smpp_window: int = setting(10, "submit_sm PDUs outstanding at once")
    sms_sender: str = setting(
        "", "numeric source address when fromName cannot be an alphanumeric sender"
    )
    sms_window_s: int = setting(3600, "seconds to wait for an SMS delivery receipt")
