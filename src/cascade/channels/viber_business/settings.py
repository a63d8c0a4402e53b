"""The Viber Business channel's settings, each read from `CASCADE_{FIELD}` (see channels.spec)."""

from __future__ import annotations

from dataclasses import dataclass

from cascade.channels.spec import setting
from cascade.channels.viber_business.client import DEFAULT_BASE_URL
from cascade.channels.viber_business.partner import DEFAULT_PARTNER_URL


@dataclass(frozen=True, slots=True)
class ViberBusinessSettings:
    viber_business_api_url: str = setting(
        DEFAULT_BASE_URL, "Vonage Messages API base URL (Viber Business Messages)"
    )
    viber_business_api_key: str = setting("", "Vonage API key")
    viber_business_api_secret: str = setting("", "Vonage API secret")
    viber_business_service_id: str = setting("", "the Viber service id messages are sent from")
    viber_business_signature_secret: str = setting(
        "", "Vonage signature secret (status webhooks are signed JWTs)"
    )
    viber_business_partner_url: str = setting(
        DEFAULT_PARTNER_URL,
        "Viber's own Business Messages API (surveys, carousels, OTP templates)",
    )
    viber_business_partner_service_id: int = setting(
        0, "the numeric service id Viber gave for its partner API (0: none)"
    )
    viber_business_window_s: int = setting(
        600, "seconds to wait for a Viber Business delivery report"
    )
