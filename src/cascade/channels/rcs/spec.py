"""The RCS channel's spec: its settings and how it is built (see channels.spec)."""

from __future__ import annotations

from cascade.channels.rcs.auth import ServiceAccountTokens
from cascade.channels.rcs.client import LIMITS, RcsChannel
from cascade.channels.rcs.demo import DEMO
from cascade.channels.rcs.settings import RcsSettings, service_account
from cascade.channels.rcs.webhook import CHANNEL, WEBHOOK_ROUTE
from cascade.channels.spec import ChannelSpec
from cascade.domain.sending import Sender


def _build(s: RcsSettings, public_url: str) -> RcsChannel:
    key = service_account(s)
    tokens = ServiceAccountTokens.from_info(key, token_uri=s.rcs_token_uri or None)
    return RcsChannel(s.rcs_api_url, agent_id=s.rcs_agent_id, tokens=tokens)


SPEC: ChannelSpec[RcsSettings] = ChannelSpec(
    name=CHANNEL,
    limits=LIMITS,
    settings=RcsSettings,
    demo=DEMO,
    build=_build,
    window_s=lambda s: s.rcs_window_s,
    provider_account=lambda s: Sender(CHANNEL, "", s.rcs_client_token),
    webhook=WEBHOOK_ROUTE,
)
