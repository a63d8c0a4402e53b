"""The flash-call channel's spec: its settings and how it is built (see channels.spec)."""

from __future__ import annotations

from cascade.channels.flashcall.client import LIMITS, FlashCallChannel
from cascade.channels.flashcall.demo import DEMO
from cascade.channels.flashcall.settings import FlashCallSettings
from cascade.channels.flashcall.webhook import CHANNEL, WEBHOOK_ROUTE
from cascade.channels.spec import ChannelSpec
from cascade.domain.content import Content
from cascade.domain.delivery import call_pattern
from cascade.domain.sending import Sender

# A flash call waits its whole TTL: its fallback goes when the TTL passes unanswered.
WINDOW_S = 2_592_000


def _build(s: FlashCallSettings, public_url: str) -> FlashCallChannel:
    return FlashCallChannel(
        account_sid=s.flashcall_account_sid,
        auth_token=s.flashcall_auth_token,
        caller_prefix=s.flashcall_caller_prefix,
        status_callback_url_base=public_url,
        code_length=s.flashcall_code_length,
        base_url=s.flashcall_api_url,
    )


def _pattern(s: FlashCallSettings, content: Content) -> str | None:
    """A call from the message's own caller id shows its code, the last digits, behind
    stars; a drawn code is not known before the call is placed."""
    if content.caller_id is None:
        return None
    return call_pattern(content.caller_id, s.flashcall_code_length)


SPEC: ChannelSpec[FlashCallSettings] = ChannelSpec(
    name=CHANNEL,
    limits=LIMITS,
    settings=FlashCallSettings,
    demo=DEMO,
    build=_build,
    window_s=lambda s: WINDOW_S,
    provider_account=lambda s: Sender(CHANNEL, s.flashcall_auth_token),
    webhook=WEBHOOK_ROUTE,
    pattern=_pattern,
)
