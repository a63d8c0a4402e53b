"""The SMS channel's spec: its settings and how it is built (see channels.spec)."""

from __future__ import annotations

from cascade.channels.sms.channel import CHANNEL, LIMITS, SmsChannel, parts
from cascade.channels.sms.demo import DEMO
from cascade.channels.sms.settings import SmsSettings
from cascade.channels.spec import ChannelSpec
from cascade.domain.sending import Sender


def _build(s: SmsSettings, public_url: str) -> SmsChannel:
    return SmsChannel(
        s.smpp_host,
        s.smpp_port,
        s.smpp_system_id,
        s.smpp_password,
        s.smpp_system_type,
        window=s.smpp_window,
        numeric_sender=s.sms_sender,
    )


SPEC: ChannelSpec[SmsSettings] = ChannelSpec(
    name=CHANNEL,
    limits=LIMITS,
    settings=SmsSettings,
    demo=DEMO,
    build=_build,
    window_s=lambda s: s.sms_window_s,
    provider_account=lambda s: Sender(CHANNEL, ""),
    parts=parts,
)
