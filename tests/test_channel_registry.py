"""The channel registry (`cascade.channels.registry`): every channel declares every part
of itself in its own package, and nothing else in `src/cascade` needs to know its name.
"""

from __future__ import annotations

import dataclasses
import io
import re
import tokenize
from pathlib import Path

import pytest

from cascade.channels.base import WebhookRoute
from cascade.channels.registry import BY_BOT_KIND, BY_NAME, CHANNELS
from cascade.channels.spec import ChannelSpec, setting_fields
from cascade.config import FIELDS, Settings, env_name
from cascade.domain import routes
from cascade.domain.content import Content
from cascade.domain.sending import Limits

SRC = Path(__file__).resolve().parent.parent / "src" / "cascade"
NAMES = [spec.name for spec in CHANNELS]

# Where a channel's name may appear outside its own package: the simulators (independent
# implementations of the providers), the migrations (history) and the API's wire formats
# (the provider's documented headers and fields) are not counted; of the rest, at most
# three files: the registry, the routes table and the message types.
NOT_COUNTED = ("simulators/", "store/migrations/", "api/")
MOST_FILES = 3


def test_the_registry_lists_every_channel_package_once() -> None:
    packages = sorted(p.parent.name for p in (SRC / "channels").glob("*/spec.py"))
    assert sorted(NAMES) == packages
    assert len(set(NAMES)) == len(NAMES)
    assert sorted(NAMES) == sorted(routes.ALL_CHANNELS)


@pytest.mark.parametrize("spec", CHANNELS, ids=NAMES)
def test_every_channel_declares_every_part(spec: ChannelSpec[object]) -> None:
    package = SRC / "channels" / spec.name
    for part in ("spec.py", "settings.py", "demo.py", "README.md"):
        assert (package / part).is_file(), f"{spec.name} has no {part}"
    assert isinstance(spec.limits, Limits)
    assert dataclasses.is_dataclass(spec.settings)
    settings = spec.settings()
    fields = setting_fields(spec)
    assert fields, f"{spec.name} declares no settings"
    for field in fields:
        assert field.metadata.get("help"), f"{field.name} has no help text"
    assert isinstance(spec.window_s(settings), int)
    # reached either through the accounts' bots or through the installation's account
    assert (spec.bots is None) != (spec.provider_account is None)
    if spec.webhook is not None:
        assert isinstance(spec.webhook, WebhookRoute)
        assert spec.webhook.channel == spec.name
    if spec.bots is not None:
        assert BY_BOT_KIND[spec.bots.kind] is spec
        assert spec.limits.bot_no_contact, "a bot channel says what a missing contact means"
    demo = spec.demo
    assert demo is not None, f"{spec.name} has no demo for `cascade up`"
    assert demo.ports >= 1
    assert (demo.bot_token is not None) == (spec.bots is not None)


def test_settings_have_one_environment_variable_each() -> None:
    own = [f.name for f in dataclasses.fields(Settings) if f.name != "channel_settings"]
    channel = [f.name for spec in CHANNELS for f in setting_fields(spec)]
    assert len(set(own + channel)) == len(own) + len(channel)
    assert set(FIELDS) == set(own) | set(channel)  # `cascade --help` lists every one


def test_channel_settings_come_from_the_environment() -> None:
    sms, rcs = BY_NAME["sms"], BY_NAME["rcs"]
    settings = Settings.from_env(
        {env_name("smpp_port"): "2776", env_name("rcs_window_s"): "30", "CASCADE_CHANNELS": "sms"}
    )
    assert settings.of(sms).smpp_port == 2776
    assert settings.of(rcs).rcs_window_s == 30
    assert settings.of(sms).smpp_host == sms.settings().smpp_host  # the default
    assert settings.enabled_channels == ("sms",)
    with pytest.raises(ValueError, match="CASCADE_SMPP_PORT must be a int"):
        Settings.from_env({env_name("smpp_port"): "many"})
    changed = settings.with_channel(sms, smpp_port=2777)
    assert (changed.of(sms).smpp_port, settings.of(sms).smpp_port) == (2777, 2776)


def test_channels_on_by_default_are_the_bot_channels() -> None:
    """CASCADE_CHANNELS unset runs what needs no provider account: the bot channels."""
    assert Settings().enabled_channels == tuple(BY_BOT_KIND[k].name for k in BY_BOT_KIND)


def _names_in_code(path: Path) -> set[str]:
    """Every identifier and every word of a string literal in `path`'s code, leaving out
    comments, docstrings, and references to a message type (`MessageType.FLASHCALL`
    names the message type of the API's wire format, not the channel)."""
    found: set[str] = set()
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
    statement_start = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
    for i, token in enumerate(tokens):
        before = [t for t in tokens[max(0, i - 3) : i] if t.type != tokenize.NL]
        if token.type == tokenize.NAME:
            if (
                len(before) >= 2
                and before[-1].string == "."
                and before[-2].string == ("MessageType")
            ):
                continue
            found.add(token.string)
        elif token.type == tokenize.STRING:
            if not before or before[-1].type in statement_start:
                continue  # a docstring
            found.update(re.findall(r"[A-Za-z0-9_]+", token.string))
    return found


def _names(channel: str, words: set[str]) -> bool:
    """Whether `words` name the channel: its name alone or as a part of a longer name
    (`telegram_bot_id`, `route_sms`), or its constant (`TELEGRAM`, `SMS_WINDOW`). Prose
    (`Telegram`) and the providers' reason codes (`NO_RCS`) do not."""
    constant = channel.upper()
    for word in words:
        if word in (channel, constant) or word.startswith((f"{channel}_", f"{constant}_")):
            return True
        if word.endswith(f"_{channel}") or f"_{channel}_" in word:
            return True
    return False


def files_naming(channel: str) -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        if where.startswith((f"channels/{channel}/", *NOT_COUNTED)):
            continue
        if _names(channel, _names_in_code(path)):
            found.append(where)
    return found


@pytest.mark.parametrize("channel", NAMES)
def test_nothing_outside_its_package_names_a_channel(channel: str) -> None:
    found = files_naming(channel)
    assert len(found) <= MOST_FILES, found
    assert set(found) <= {"channels/registry.py", "domain/routes.py", "domain/message.py"}


def test_the_scan_finds_a_channel_named_in_code(tmp_path: Path) -> None:
    """The scan counts code, not comments or docstrings."""
    sample = tmp_path / "sample.py"
    sample.write_text('"""About telegram."""\n# telegram\nX = 1\n')
    assert not _names("telegram", _names_in_code(sample))
    for code in ('KIND = "telegram"\n', "pinned = c.telegram_bot_id\n", "r = routes.TELEGRAM\n"):
        sample.write_text(code)
        assert _names("telegram", _names_in_code(sample)), code
    sample.write_text("t = MessageType.FLASHCALL\n")
    assert not _names("flashcall", _names_in_code(sample))


def test_channels_but_sms_count_one_part_a_step() -> None:
    others = [spec for spec in CHANNELS if spec.name != "sms"]
    assert others
    assert {spec.parts(Content(text="a" * 1000)) for spec in others} == {1}
    assert BY_NAME["sms"].parts(Content(text="a" * 1000)) == 7
