"""The `cascade` command line: operate a Cascade installation (SPEC Part C)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cascade.channels.registry import BY_BOT_KIND, BY_NAME, CHANNELS
from cascade.clock import SystemClock
from cascade.config import FIELDS, Settings
from cascade.domain.message import MAX_BATCH, Route
from cascade.security import Passwords, hash_secret, login_problem, new_api_key
from cascade.simulators.standalone import simulate
from cascade.store import Account, LoginTaken, StoreError
from cascade.store.base import CallbackKind
from cascade.store.migrate import upgrade
from cascade.store.sql import SqlStore

if TYPE_CHECKING:
    from cascade.api.chathub.hub import Dismissal
    from cascade.csv_send import CsvFile, Outcome

# channels whose contacts can be imported: their recipients are users of a bot
_BOT_CHANNELS = tuple(spec.name for spec in BY_BOT_KIND.values())

_T = TypeVar("_T")

_ENV_HELP = "\n".join(f"  CASCADE_{name.upper():<22} {text}" for name, text in FIELDS.items())


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as err:
        raise click.UsageError(str(err)) from None


def _with_store(action: Callable[[SqlStore], Awaitable[_T]]) -> _T:
    settings = _settings()

    async def run() -> _T:
        store = SqlStore(
            settings.database_url,
            SystemClock(),
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=2,
        )
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except LoginTaken:  # the caller's to answer: a rule, not a broken database
        raise
    except StoreError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise click.ClickException(
            f"the database failed: {first}\n(is its schema current? `cascade migrate`)"
        ) from None


async def _new_key(store: SqlStore, account_id: str, key: str | None = None) -> tuple[str, str]:
    key = key or new_api_key()
    key_id = await store.add_api_key(account_id, hash_secret(key))
    return key_id, key


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Configuration (environment):\n\n" + _ENV_HELP,
)
@click.version_option(package_name="cascade")
def main() -> None:
    """Cascade: one HTTP request, delivered through the cheapest channel that reaches."""


@main.command()
def migrate() -> None:
    """Bring the database schema up to date (safe to run again)."""
    settings = _settings()
    upgrade(settings.database_url)
    click.echo("database schema is current")


# --- accounts -------------------------------------------------------------------------


@main.group()
def accounts() -> None:
    """Create and configure accounts."""


@accounts.command("create")
@click.argument("name")
@click.option(
    "--from-name",
    default=None,
    help="Default sender name (envelope form); defaults to NAME, cut to 28 characters.",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"accountId", "apiKey"}.')
def accounts_create(name: str, from_name: str | None, as_json: bool) -> None:
    """Create an account and its first API key; the key is shown only now."""

    async def action(store: SqlStore) -> tuple[Account, str]:
        account = await store.create_account(name, (from_name or name)[:28])
        _, key = await _new_key(store, account.id)
        return account, key

    account, key = _with_store(action)
    if as_json:
        click.echo(json.dumps({"accountId": account.id, "apiKey": key}))
    else:
        click.echo(
            f"account id: {account.id}\napi key:    {key}\n"
            "(the key is shown only once; store it now)"
        )


@accounts.command("limits")
@click.argument("account_id")
@click.option("--send-rate", type=float, help="Send requests per second.")
@click.option("--send-burst", type=int, help="Send burst size.")
@click.option("--status-rate", type=float, help="Status requests per second.")
@click.option("--status-burst", type=int, help="Status burst size.")
def accounts_limits(
    account_id: str,
    send_rate: float | None,
    send_burst: int | None,
    status_rate: float | None,
    status_burst: int | None,
) -> None:
    """Set an account's own rate limits (pairs of rate and burst)."""
    send = (send_rate, send_burst) if send_rate and send_burst else None
    status = (status_rate, status_burst) if status_rate and status_burst else None
    if send is None and status is None:
        raise click.UsageError(
            "give --send-rate with --send-burst, or --status-rate with --status-burst"
        )
    changed = _with_store(lambda s: s.set_account_limits(account_id, send=send, status=status))
    if not changed:
        raise click.ClickException(f"no account {account_id}")
    click.echo("limits updated")


@accounts.command("channels")
@click.argument("account_id")
@click.argument("order", required=False)
@click.option("--reset", is_flag=True, help="Back to every configured channel, route order.")
def accounts_channels(account_id: str, order: str | None, reset: bool) -> None:
    """Set the account's channel order, e.g. `telegram,sms`: channels left out are off."""
    from cascade.domain.routes import ALL_CHANNELS

    if reset == bool(order):
        raise click.UsageError(f"give an ORDER of {','.join(ALL_CHANNELS)}, or --reset")
    chosen = None if reset else [c.strip() for c in (order or "").split(",") if c.strip()]
    unknown = set(chosen or ()) - set(ALL_CHANNELS)
    if unknown:
        raise click.UsageError(f"unknown channels: {', '.join(sorted(unknown))}")
    if not _with_store(lambda s: s.set_channel_order(account_id, chosen)):
        raise click.ClickException(f"no account {account_id}")
    click.echo("channel order updated")


@accounts.command("login")
@click.argument("account_id")
@click.argument("login")
def accounts_login(account_id: str, login: str) -> None:
    """Set the password of the account's LOGIN (HTTP Basic on the core SMSBAT API),
    creating the login or replacing its password. The password is asked for twice at a
    terminal; otherwise it is the first line of stdin (never an argument: arguments
    show in the process list and the shell's history)."""
    problem = login_problem(login)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="LOGIN")
    if _with_store(lambda s: s.get_account(account_id)) is None:
        raise click.ClickException(f"no account {account_id}")
    password = _read_password()
    if not password:
        raise click.ClickException("the password is empty")
    password_hash = Passwords().hash(password)
    try:
        if not _with_store(lambda s: s.set_login(account_id, login, password_hash)):
            raise click.ClickException(f"no account {account_id}")
    except LoginTaken:
        raise click.ClickException(f"the login {login} belongs to another account") from None
    click.echo(f"password set for login {login}")


def _interactive() -> bool:
    return sys.stdin.isatty()


def _read_password() -> str:
    if _interactive():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


@accounts.command("suspend")
@click.argument("account_id")
def accounts_suspend(account_id: str) -> None:
    """Suspend an account: its credentials are refused with 403, and its open ChatHub
    connections are closed (told through PostgreSQL or Redis; on SQLite a running
    `cascade up` is not reached)."""
    _set_suspended(account_id, True)


@accounts.command("resume")
@click.argument("account_id")
def accounts_resume(account_id: str) -> None:
    """Lift an account's suspension."""
    _set_suspended(account_id, False)


def _set_suspended(account_id: str, suspended: bool) -> None:
    if not _with_store(lambda s: s.set_suspended(account_id, suspended)):
        raise click.ClickException(f"no account {account_id}")
    if not suspended:
        click.echo("account resumed")
        return
    from cascade.api.chathub.conversations import account_suspended

    if asyncio.run(_dismiss_on_hubs(account_suspended(account_id))):
        click.echo("account suspended; its ChatHub connections are told to close")
    else:
        click.echo(
            "account suspended; its ChatHub connections open in a running `cascade up` on "
            "SQLite are not reached from here (they stay until their tokens expire or they "
            "disconnect; restart it to end them now)"
        )


async def _dismiss_on_hubs(dismissal: Dismissal) -> bool:
    """Publish a ChatHub dismissal on the API processes' bus (PostgreSQL's notifications or
    Redis); False when the bus is in-process (SQLite: the API is another process)."""
    from cascade.api.chathub.hub import LocalBus, bus_records
    from cascade.bootstrap import build_bus

    bus = build_bus(_settings())
    if isinstance(bus, LocalBus):
        return False
    try:
        await bus.publish(bus_records.dismissal(dismissal))
    finally:
        await bus.close()
    return True


# --- keys -----------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Issue and revoke API keys."""


@keys.command("create")
@click.option("--account", "account_id", required=True, help="Account id.")
@click.option("--json", "as_json", is_flag=True, help='Print {"keyId", "apiKey"}.')
def keys_create(account_id: str, as_json: bool) -> None:
    """Issue a new API key for an account; it is shown only now."""

    async def action(store: SqlStore) -> tuple[str, str]:
        if await store.get_account(account_id) is None:
            raise click.ClickException(f"no account {account_id}")
        return await _new_key(store, account_id)

    key_id, key = _with_store(action)
    if as_json:
        click.echo(json.dumps({"keyId": key_id, "apiKey": key}))
    else:
        click.echo(f"key id:  {key_id}\napi key: {key}\n(the key is shown only once)")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by its id."""
    if not _with_store(lambda s: s.revoke_api_key(key_id)):
        raise click.ClickException(f"no active key {key_id}")
    click.echo("key revoked")


# --- bots -----------------------------------------------------------------------------


@main.group()
def bots() -> None:
    """Register Telegram and Viber bots to accounts."""


@bots.command("add")
@click.argument("kind", type=click.Choice(list(BY_BOT_KIND)))
@click.argument("token")
@click.option("--account", "account_id", required=True, help="Account id.")
def bots_add(kind: str, token: str, account_id: str) -> None:
    """Register a bot; its token then authenticates as the account (X-Tg-Bot-Key /
    X-Viber-Auth-Token) and selects that bot for the message's step."""

    async def action(store: SqlStore) -> str:
        if await store.get_account(account_id) is None:
            raise click.ClickException(f"no account {account_id}")
        channel = BY_BOT_KIND[kind].name
        return await store.add_bot(account_id, channel, token, hash_secret(token))

    click.echo(f"bot id: {_with_store(action)}")


@bots.command("webhook")
@click.argument("bot_id")
def bots_webhook(bot_id: str) -> None:
    """Point a bot's updates/callbacks at this Cascade (CASCADE_PUBLIC_URL/webhooks/…),
    through the platform's own setWebhook / set_webhook call."""
    from cascade.domain.sending import Sender

    settings = _settings()
    refusals = tuple(spec.bots.refused for spec in BY_BOT_KIND.values() if spec.bots)

    async def action(store: SqlStore) -> str:
        row = await store.sender(bot_id)
        spec = BY_NAME.get(row.channel) if row is not None else None
        if row is None or spec is None or spec.bots is None:
            raise click.ClickException(f"no bot {bot_id}")
        url = f"{settings.public_url.rstrip('/')}/webhooks/{row.channel}/{row.id}"
        channel = spec.build(settings.of(spec), settings.public_url)
        try:
            await spec.bots.set_webhook(channel, Sender(row.id, row.token, row.webhook_secret), url)
        finally:
            await channel.aclose()
        return url

    try:
        url = _with_store(action)
    except refusals as err:
        raise click.ClickException(f"the platform refused the webhook: {err}") from None
    click.echo(f"webhook set: {url}")


# --- ChatHub: organizations and operators ------------------------------------------------


def _chat_id(value: int, name: str) -> int:
    from cascade.domain.chats import MAX_ID, is_id

    if not is_id(value):
        raise click.BadParameter(f"must be a whole number from 1 to {MAX_ID}", param_hint=name)
    return value


def _chat_name(name: str) -> str:
    from cascade.domain.chats import name_problem

    problem = name_problem(name.strip())
    if problem is not None:
        raise click.BadParameter(problem, param_hint="NAME")
    return name.strip()


@main.group()
def orgs() -> None:
    """ChatHub organizations: an account's teams of operators, each owning some of its
    bots (a chat with a bot joins the bot's organization)."""


@orgs.command("create")
@click.argument("name")
@click.option("--account", "account_id", required=True, help="Account id.")
def orgs_create(name: str, account_id: str) -> None:
    """Create an organization; prints its id."""
    name = _chat_name(name)

    async def action(store: SqlStore) -> int:
        if await store.get_account(account_id) is None:
            raise click.ClickException(f"no account {account_id}")
        return (await store.create_organization(account_id, name)).id

    click.echo(f"organization id: {_with_store(action)}")


@orgs.command("list")
@click.option("--account", "account_id", required=True, help="Account id.")
def orgs_list(account_id: str) -> None:
    """List an account's organizations: id, name, the bots each owns."""

    async def action(store: SqlStore) -> list[tuple[int, str, list[str]]]:
        return [
            (org.id, org.name, await store.organization_bots(org.id))
            for org in await store.organizations(account_id)
        ]

    for organization_id, name, bots in _with_store(action):
        owned = ", ".join(bots) if bots else "no bots"
        click.echo(f"{organization_id}  {name}  ({owned})")


@orgs.command("bots")
@click.argument("organization_id", type=int)
@click.argument("bot_ids", nargs=-1, required=True)
def orgs_bots(organization_id: int, bot_ids: tuple[str, ...]) -> None:
    """Make ORGANIZATION_ID own these bots of its account (a bot owned by another
    organization moves: a bot belongs to at most one)."""
    from cascade.store import NotFound

    _chat_id(organization_id, "ORGANIZATION_ID")

    async def action(store: SqlStore) -> None:
        org = await store.organization(organization_id)
        if org is None:
            raise click.ClickException(f"no organization {organization_id}")
        try:
            await store.attach_bots(org.account_id, organization_id, bot_ids)
        except NotFound as err:
            raise click.ClickException(f"no bot {err.key} in the organization's account") from None

    _with_store(action)
    click.echo(f"organization {organization_id} owns {len(set(bot_ids))} more bots")


@main.group()
def operators() -> None:
    """ChatHub operators: the people who answer an organization's chats."""


@operators.command("add")
@click.argument("organization_id", type=int)
@click.argument("name")
def operators_add(organization_id: int, name: str) -> None:
    """Add an active operator to an organization; prints its id (unique within the
    account: the next after the account's highest)."""
    from cascade.domain.chats import OperatorSync

    _chat_id(organization_id, "ORGANIZATION_ID")
    name = _chat_name(name)

    async def action(store: SqlStore) -> int:
        org = await store.organization(organization_id)
        if org is None:
            raise click.ClickException(f"no organization {organization_id}")
        [added] = await store.synchronize_operators(
            org.account_id, [OperatorSync(organization_id, name)]
        )
        return added.id

    click.echo(f"operator id: {_with_store(action)}")


# --- contacts -------------------------------------------------------------------------


@main.group()
def contacts() -> None:
    """Phone ↔ channel identities (Telegram chat ids, Viber user ids)."""


@contacts.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8"))
@click.option("--account", "account_id", required=True, help="Account id.")
def contacts_import(csv_file: Any, account_id: str) -> None:
    """Import a CSV with columns phone,channel,address[,bot].

    channel is telegram or viber_bot; address is the chat id or Viber user id; bot is the
    bot id (default: the account's first bot of that kind). A header row is optional.
    """
    import csv

    from cascade.domain.phone import is_e164

    rows = [r for r in csv.reader(csv_file) if r and any(cell.strip() for cell in r)]
    if rows and rows[0][0].strip().lower() == "phone":
        rows = rows[1:]

    async def action(store: SqlStore) -> int:
        bots: dict[str, list[str]] = {}
        for sender in await store.senders([account_id]):
            bots.setdefault(sender.channel, []).append(sender.id)
        parsed: list[tuple[str, str, str, str, bool]] = []
        for line, row in enumerate(rows, start=1):
            cells = [cell.strip() for cell in row]
            if len(cells) < 3:
                raise click.ClickException(f"row {line}: expected phone,channel,address[,bot]")
            phone, channel, address = cells[:3]
            if not is_e164(phone):
                raise click.ClickException(f"row {line}: {phone!r} is not an E.164 number")
            if channel not in _BOT_CHANNELS:
                raise click.ClickException(
                    f"row {line}: channel must be {' or '.join(_BOT_CHANNELS)}"
                )
            bot = cells[3] if len(cells) > 3 and cells[3] else None
            if bot is None:
                if not bots.get(channel):
                    raise click.ClickException(f"row {line}: the account has no {channel} bot")
                bot = bots[channel][0]
            elif bot not in bots.get(channel, []):
                raise click.ClickException(
                    f"row {line}: bot {bot} is not a {channel} bot of this account"
                )
            parsed.append((channel, bot, phone, address, True))
        return await store.upsert_contacts(parsed)

    click.echo(f"imported {_with_store(action)} contacts")


# --- prices ---------------------------------------------------------------------------


@main.group()
def prices() -> None:
    """The price table: what a send costs, by channel and destination (SPEC D9)."""


@prices.command("load")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def prices_load(csv_file: Path) -> None:
    """Replace the whole price table with a CSV file: channel,country_prefix,price,currency.

    One row per channel and country prefix (1-6 digits, `+` optional); a number takes the
    price of its longest listed prefix. SMS is priced per part, every other channel per
    message; price is a decimal of at most 6 places in one currency (ISO 4217) for the
    whole table. Any bad row: every one is listed and nothing is loaded.
    """
    from cascade.domain.prices import PriceFileError, parse_prices

    try:
        text = csv_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise click.ClickException(f"{csv_file} is not UTF-8 text ({err.reason})") from None
    except OSError as err:
        raise click.ClickException(f"cannot read {csv_file}: {err.strerror}") from None
    try:
        table = parse_prices(text, BY_NAME.keys())
    except PriceFileError as err:
        for problem in err.problems:
            click.echo(f"{csv_file}: {problem}", err=True)
        lines = len({p.line for p in err.problems})
        raise click.ClickException(f"nothing loaded: {lines} bad lines") from None
    version = _with_store(lambda s: s.load_prices(table))
    counts = table.per_channel()
    click.echo(f"loaded {len(table)} prices (table version {version}):")
    for spec in CHANNELS:
        count = counts.get(spec.name, 0)
        note = f"{count} price{'s' if count > 1 else ''}" if count else "none: no cost reported"
        click.echo(f"  {spec.name:<16} {note}")


@prices.command("list")
def prices_list() -> None:
    """Print the price table as CSV (`prices load` reads it back)."""
    from cascade.domain.prices import to_csv

    table = _with_store(lambda s: s.price_table())
    click.echo(to_csv(table), nl=False)
    if not table.version:
        click.echo("no price table loaded yet: `cascade prices load FILE.csv`", err=True)


# --- webhooks: status changes and incoming messages ------------------------------------

_INCOMING_HELP = (
    "Messages people send back (a text to the account's sender, a Viber Business reply, "
    "an RBM user message), instead of status changes."
)


def _kind(incoming: bool) -> CallbackKind:
    return CallbackKind.INCOMING if incoming else CallbackKind.STATUS


@main.group()
def callbacks() -> None:
    """Webhooks: URLs that receive every status change (or, with --incoming, every
    message people send back), signed and retried until acknowledged."""


@callbacks.command("add")
@click.argument("url")
@click.option("--account", "account_id", required=True, help="Account id.")
@click.option("--incoming", is_flag=True, help=_INCOMING_HELP)
def callbacks_add(url: str, account_id: str, incoming: bool) -> None:
    """Register a callback URL; prints its id and signing secret (shown only now)."""
    import secrets

    from cascade.bootstrap import callback_policy
    from cascade.domain.errors import RequestRejected

    try:
        asyncio.run(callback_policy(_settings()).check(url))
    except RequestRejected as err:
        raise click.UsageError(err.message) from None
    secret = secrets.token_hex(32)
    kind = _kind(incoming)
    callback_id = _with_store(lambda s: s.add_callback(account_id, url, secret, kind))
    click.echo(f"callback id: {callback_id}\nsecret:      {secret}\nkind:        {kind}")


@callbacks.command("list")
@click.option("--account", "account_id", required=True, help="Account id.")
@click.option("--incoming", is_flag=True, help=_INCOMING_HELP)
def callbacks_list(account_id: str, incoming: bool) -> None:
    """List an account's callback URLs (status ones, or with --incoming the others)."""
    kind = _kind(incoming)
    for callback_id, url in _with_store(lambda s: s.list_callbacks(account_id, kind)):
        click.echo(f"{callback_id}  {url}")


@callbacks.command("remove")
@click.argument("callback_id")
@click.option("--account", "account_id", required=True, help="Account id.")
def callbacks_remove(callback_id: str, account_id: str) -> None:
    """Stop sending anything to a callback."""
    if not _with_store(lambda s: s.remove_callback(account_id, callback_id)):
        raise click.ClickException(f"no callback {callback_id}")
    click.echo("callback removed")


# --- a message's timeline; a CSV of messages ---------------------------------------------


@main.command()
@click.argument("message_id", required=False)
@click.option("--tracking", "tracking_id", help="The client's tracking id (`id`) instead.")
@click.option(
    "--account",
    "account_id",
    help="Only this account's message (a tracking id is unique within an account).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
def status(
    message_id: str | None, tracking_id: str | None, account_id: str | None, as_json: bool
) -> None:
    """Print a message's timeline: each step tried or passed over and why, delivery
    reports, link clicks, status-webhook deliveries, its final status. Reads the database
    (CASCADE_DATABASE_URL), so it runs where Cascade runs."""
    import msgspec
    from rich.console import Console

    from cascade.domain.timeline import timeline
    from cascade.terminal import show_timeline

    if (message_id is None) == (tracking_id is None):
        raise click.UsageError("give a MESSAGE_ID or --tracking TRACKING_ID (one of them)")
    found = _with_store(
        lambda s: s.message_history(account_id, message_id=message_id, tracking_id=tracking_id)
    )
    named = f"id {message_id}" if message_id is not None else f"tracking id {tracking_id}"
    if not found:
        within = f" in account {account_id}" if account_id else ""
        raise click.ClickException(f"no message with {named}{within}")
    if len(found) > 1:
        accounts = ", ".join(h.account_id for h in found)
        raise click.ClickException(
            f"the {named} names a message in each of {len(found)} accounts ({accounts}): "
            "give --account"
        )
    shown = timeline(found[0])
    if as_json:
        click.echo(msgspec.json.encode(shown))
        return
    # a pipe or a file gets whole lines, not ones wrapped at rich's default 80 columns
    width = None if sys.stdout.isatty() else 240
    show_timeline(Console(highlight=False, width=width), shown)


@main.command()
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--route",
    type=click.Choice([r.value for r in Route]),
    default=Route.STANDARD.value,
    show_default=True,
    help="The cascade: standard, or Telegram-Viber priority.",
)
@click.option(
    "--batch",
    type=click.IntRange(1, MAX_BATCH),
    default=500,
    show_default=True,
    help="Messages per request.",
)
@click.option(
    "--url",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="The Cascade API to send through.",
)
@click.option("--key", envvar="CASCADE_API_KEY", help="The account's API key [CASCADE_API_KEY].")
def send(csv_file: Path, route: str, batch: int, url: str, key: str | None) -> None:
    """Send a CSV of messages through the Cascade API, in batches.

    Columns (a header row, any order, any case): phone,text and optionally
    id,messageType,ttl,scheduledSent,fromName. A row without an id gets one made from the
    file's path and its line, so running the same file again sends nothing twice: rows
    accepted before are counted as already sent. Rows the API refuses are written, with
    its error, to FILE.rejected.csv beside the file. Exit code 0: every row accepted; 1:
    some rejected, or the run stopped (run it again); 2: the file or options are wrong.
    """
    from rich.console import Console

    from cascade.csv_send import CsvProblem, Outcome, read_csv, rejected_path, write_rejected
    from cascade.terminal import send_summary

    if not key:
        raise click.UsageError("give the account's API key: --key or CASCADE_API_KEY")
    try:
        file = read_csv(csv_file)
    except CsvProblem as err:
        raise click.UsageError(str(err)) from None
    outcome = Outcome()
    stopped: str | None = None
    try:
        stopped = asyncio.run(_send_file(file, url, key, route, batch, outcome))
    except KeyboardInterrupt:
        stopped = "interrupted"
    out = Console(highlight=False)
    out.print(send_summary(outcome, len(file.rows)))
    stale = rejected_path(csv_file)
    if outcome.rejected:
        written = write_rejected(file, outcome.rejected)
        out.print(f"rejected rows, with the API's error: {written}")
    elif stopped is None and stale.exists():
        stale.unlink()  # an earlier run's: none of its rows is rejected now
    if stopped is not None:
        click.echo(
            f"stopped: {stopped}\nrun the same command again: rows accepted already are "
            "not sent twice",
            err=True,
        )
        sys.exit(130 if stopped == "interrupted" else 1)
    if outcome.rejected:
        sys.exit(1)


async def _send_file(
    file: CsvFile, url: str, key: str, route: str, size: int, outcome: Outcome
) -> str | None:
    """Send every batch, showing progress; the reason it stopped early, if it did."""
    import httpx
    from rich.console import Console

    from cascade.csv_send import SendAborted, Sender, batches
    from cascade.terminal import send_progress

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        sender = Sender(client, route, key, outcome=outcome)
        with send_progress(Console(stderr=True)) as progress:
            task = progress.add_task(file.path.name, total=len(file.rows))
            for rows in batches(file.rows, size):
                try:
                    await sender.send(rows)
                except SendAborted as err:
                    return str(err)
                progress.update(task, completed=outcome.done)
    return None


# --- the engine and the simulators ------------------------------------------------------


@main.command()
def worker() -> None:
    """Run a delivery worker (any number may run; stops cleanly on SIGTERM)."""
    from cascade.bootstrap import (
        build_channels,
        build_engine,
        build_metrics,
        build_store,
        configure_logging,
    )
    from cascade.engine.runner import run_until_signalled
    from cascade.metrics_port import serving_metrics

    settings = _settings()
    configure_logging(settings)
    clock = SystemClock()
    store = build_store(settings, clock)
    metrics = build_metrics(settings, clock, store)
    engine = build_engine(settings, store, build_channels(settings), clock, metrics=metrics)

    async def run() -> None:
        if not settings.metrics_port:
            await run_until_signalled(engine)
            return
        async with serving_metrics(metrics, settings.metrics_host, settings.metrics_port):
            await run_until_signalled(engine)

    from cascade import loop

    loop.run(run())


# --- serving --------------------------------------------------------------------------


def serve(host: str, port: int, workers: int, server: str) -> None:
    """Run the API under the chosen ASGI server until SIGTERM or SIGINT.

    Either way it is one service (cascade/service.py): a stop ends every worker within
    `STOP_TIMEOUT_S`, and the workers die with the process that started them, even if it
    is killed with SIGKILL.
    """
    from cascade.service import metrics_directory

    # before any server process imports prometheus-client (cascade/metrics.py)
    with metrics_directory(workers):
        _serve(host, port, workers, server)


def _serve(host: str, port: int, workers: int, server: str) -> None:
    from cascade.service import (
        APP_FACTORY,
        STOP_TIMEOUT_S,
        reset_stop_signals_in_forked_workers,
    )

    if server == "uvicorn":
        import uvicorn

        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            log_config=None,  # its lines go through Cascade's handler (text or JSON)
            access_log=False,
            timeout_graceful_shutdown=STOP_TIMEOUT_S,
        )
        return
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    reset_stop_signals_in_forked_workers()
    Server(
        APP_FACTORY,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        log_access=False,
        log_level="warning",  # type: ignore[arg-type]
        # its own lines go through Cascade's handler (text or JSON), as every logger's do
        log_dictconfig={
            "loggers": {
                "_granian": {"handlers": [], "propagate": True},
                "granian.access": {"handlers": [], "propagate": True},
            }
        },
        workers_kill_timeout=STOP_TIMEOUT_S,
    ).serve()


_server_option = click.option(
    "--server",
    type=click.Choice(["granian", "uvicorn"]),
    default="granian",
    show_default=True,
    help="ASGI server (see BENCHMARKS.md for why granian is the default).",
)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Server processes.")
@_server_option
def api(host: str, port: int, workers: int, server: str) -> None:
    """Serve the HTTP API (schema must be current: run `cascade migrate`)."""
    from cascade.bootstrap import configure_logging

    configure_logging(_settings())  # this process's own lines (its workers' too, then)
    serve(host, port, workers, server)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--sim-port",
    default=8081,
    show_default=True,
    type=int,
    help="The first simulator's port; the others take the next ones, the sample media "
    "the one after theirs (8081-8088 by default).",
)
def up(host: str, port: int, sim_port: int) -> None:
    """The embedded default: API, engine and simulators with a demo account, on SQLite
    unless CASCADE_DATABASE_URL says otherwise."""
    from cascade.bootstrap import configure_logging
    from cascade.embedded import run

    settings = _settings()
    if "CASCADE_PUBLIC_URL" not in os.environ:
        settings = replace(settings, public_url=f"http://{host}:{port}")
    # each channel's demo shortens its window, so a message is seen moving on in seconds
    # the demo's webhook receivers are on this machine (loopback)
    if "CASCADE_ALLOW_PRIVATE_CALLBACKS" not in os.environ:
        settings = replace(settings, allow_private_callbacks=True)
    if "CASCADE_WIDGET_DEMO" not in os.environ:  # the operator chat panel's demo page
        settings = replace(settings, widget_demo=True)
    if settings.log_level == "info":  # the demo's own output, not every request's
        settings = replace(settings, log_level="warning")
    configure_logging(settings)
    from cascade import loop

    # uvloop, as the worker: 249-261 msg/s against 230-232 on the default loop for the
    # five-step cascade, now that the simulators run in a process of their own
    loop.run(run(settings, host, port, sim_port))


main.add_command(simulate)
