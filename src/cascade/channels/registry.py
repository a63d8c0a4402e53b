"""Every channel Cascade has, in the order `cascade --help` lists them: one line each.

The composition root, the configuration, the CLI and `cascade up` iterate `CHANNELS`;
nothing else needs to know a channel's name. Adding a channel is its package (with its
`spec.py`), one line here, its migrations and its tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cascade.channels.flashcall.spec import SPEC as FLASHCALL
from cascade.channels.rcs.spec import SPEC as RCS
from cascade.channels.sms.spec import SPEC as SMS
from cascade.channels.spec import ChannelSpec
from cascade.channels.telegram.spec import SPEC as TELEGRAM
from cascade.channels.viber_bot.spec import SPEC as VIBER_BOT
from cascade.channels.viber_business.spec import SPEC as VIBER_BUSINESS

CHANNELS: tuple[ChannelSpec[Any], ...] = (
    TELEGRAM,
    VIBER_BOT,
    VIBER_BUSINESS,
    RCS,
    SMS,
    FLASHCALL,
)

BY_NAME: Mapping[str, ChannelSpec[Any]] = {spec.name: spec for spec in CHANNELS}

# the channel any message could have gone by: the console's "all-SMS" spend baseline
SPEND_BASELINE: ChannelSpec[Any] = SMS

# bot channels by their bots' kind in `cascade bots add KIND`
BY_BOT_KIND: Mapping[str, ChannelSpec[Any]] = {
    spec.bots.kind: spec for spec in CHANNELS if spec.bots is not None
}

# the channels whose people chat with operators (ChatHub), by ChatHub's `source` number
CHAT_SOURCES: Mapping[int, str] = {
    spec.bots.chat_source: spec.name for spec in CHANNELS if spec.bots is not None
}
SOURCE_OF_CHANNEL: Mapping[str, int] = {name: n for n, name in CHAT_SOURCES.items()}
CHAT_CHANNELS = frozenset(CHAT_SOURCES.values())
