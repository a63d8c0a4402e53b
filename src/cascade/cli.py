"""The `cascade` command line: operate a Cascade installation (SPEC Part C)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from cascade.clock import SystemClock
from cascade.config import FIELDS, Settings
from cascade.security import hash_secret, new_api_key
from cascade.store import Account, CredentialKind
from cascade.store.migrate import upgrade
from cascade.store.sql import SqlStore

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

    return asyncio.run(run())


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
@click.argument("kind", type=click.Choice(["telegram", "viber"]))
@click.argument("token")
@click.option("--account", "account_id", required=True, help="Account id.")
def bots_add(kind: str, token: str, account_id: str) -> None:
    """Register a bot; its token then authenticates as the account (X-Tg-Bot-Key /
    X-Viber-Auth-Token) and selects that bot for the message's step."""

    async def action(store: SqlStore) -> str:
        if await store.get_account(account_id) is None:
            raise click.ClickException(f"no account {account_id}")
        return await store.add_bot(account_id, CredentialKind(kind), token, hash_secret(token))

    click.echo(f"bot id: {_with_store(action)}")


# --- serving --------------------------------------------------------------------------


def serve(host: str, port: int, workers: int, server: str) -> None:
    """Run the API under the chosen ASGI server until interrupted."""
    if server == "uvicorn":
        import uvicorn

        uvicorn.run(
            "cascade.bootstrap:asgi_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            access_log=False,
        )
        return
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    Server(
        "cascade.bootstrap:asgi_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        log_access=False,
        log_level="warning",  # type: ignore[arg-type]
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
    serve(host, port, workers, server)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@_server_option
def up(host: str, port: int, server: str) -> None:
    """The embedded default: migrate, create the demo account, serve the API."""
    settings = _settings()
    upgrade(settings.database_url)
    key = settings.demo_key or new_api_key()

    async def action(store: SqlStore) -> Account:
        found = await store.find_credential(CredentialKind.API_KEY, hash_secret(key))
        if found is not None:
            account = await store.get_account(found.account_id)
            assert account is not None
            return account
        account = await store.find_account("demo") or await store.create_account("demo", "Cascade")
        await _new_key(store, account.id, key)
        return account

    account = _with_store(action)
    base = f"http://{host}:{port}"
    if "CASCADE_PUBLIC_URL" not in os.environ:
        os.environ["CASCADE_PUBLIC_URL"] = base
    click.echo(
        f"Cascade is up on {base}\n"
        f"  demo account: {account.id}\n"
        f"  demo API key: {key}\n"
        f"  API docs:     {base}/docs\n\n"
        "Try it:\n"
        f"  curl -s {base}/api/CascadeMessage/send_message/async \\\n"
        f"    -H 'Content-Type: application/json' -H 'X-Authorization-Key: {key}' \\\n"
        '    -d \'[{"id":"hello-1","fromName":"Demo","toPhone":"+380501234561",'
        '"messageType":"transaction","text":"Hello from Cascade"}]\'\n'
    )
    sys.stdout.flush()
    serve(host, port, 1, server)


def _json_default(value: Any) -> str:  # pragma: no cover - used only for debug output
    return str(value)
