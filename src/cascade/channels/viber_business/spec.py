"""The Viber Business channel's spec: its settings and how it is built (see channels.spec)."""

from __future__ import annotations

from cascade.channels.spec import ChannelSpec
from cascade.channels.viber_business.client import (
    LIMITS,
    ViberBusinessChannel,
)
from cascade.channels.viber_business.demo import DEMO
from cascade.channels.viber_business.settings import ViberBusinessSettings
from cascade.channels.viber_business.webhook import CHANNEL, WEBHOOK_ROUTE
from cascade.domain.sending import Sender


def _build(s: ViberBusinessSettings, public_url: str) -> ViberBusinessChannel:
    return ViberBusinessChannel(
        s.viber_business_api_url,
        s.viber_business_api_key,
        s.viber_business_api_secret,
        s.viber_business_service_id,
        s.viber_business_signature_secret,
        partner_url=s.viber_business_partner_url,
        partner_service_id=s.viber_business_partner_service_id,
    )


SPEC: ChannelSpec[ViberBusinessSettings] = ChannelSpec(
    name=CHANNEL,
    limits=LIMITS,
    settings=ViberBusinessSettings,
    demo=DEMO,
    build=_build,
    window_s=lambda s: s.viber_business_window_s,
    provider_account=lambda s: Sender(
        CHANNEL,
        f"{s.viber_business_api_key}:{s.viber_business_api_secret}",
        s.viber_business_signature_secret,
    ),
    webhook=WEBHOOK_ROUTE,
)
