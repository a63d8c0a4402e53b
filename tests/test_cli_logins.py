"""Logins made from the command line: `cascade accounts login|suspend|resume` through
click's CliRunner on a migrated SQLite database (the password from a prompt or stdin,
never an argument), and the demo login `cascade up` sets."""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from click.testing import CliRunner, Result

from cascade import cli
from cascade.api.auth import Authenticator, Principal
from cascade.api.bat_auth import authenticate_bat
from cascade.clock import ManualClock, SystemClock
from cascade.embedded import _prepare_demo
from cascade.store import Account, AccountStore, Login
from cascade.store.memory import MemoryStore
from cascade.store.sql import SqlStore
from tests.ports import free_port
from tests.test_cli import base_env, start_up, stop


class Installation:
    def __init__(self, url: str) -> None:
        self.url = url

    def cascade(self, *args: str, stdin: str | None = None) -> Result:
        env = {"CASCADE_DATABASE_URL": self.url, "CASCADE_SQLITE_SYNCHRONOUS": "NORMAL"}
        return CliRunner().invoke(cli.main, list(args), input=stdin, env=env)

    def store(self, action: Any) -> Any:
        async def run() -> Any:
            store = SqlStore(self.url, SystemClock(), sqlite_synchronous="NORMAL")
            try:
                return await action(store)
            finally:
                await store.close()

        return asyncio.run(run())

    def account(self, name: str = "acme") -> Account:
        account: Account = self.store(lambda s: s.create_account(name, name))
        return account

    def login(self, login: str) -> Login | None:
        found: Login | None = self.store(lambda s: s.find_login(login))
        return found


@pytest.fixture
def installation(sqlite_url: str) -> Installation:
    return Installation(sqlite_url)


def is_password_of(found: Login | None, password: str) -> bool:
    assert found is not None
    assert password not in found.password_hash
    assert found.password_hash.startswith("$argon2id$")
    try:
        return bool(PasswordHasher().verify(found.password_hash, password))
    except VerifyMismatchError:
        return False


def test_the_password_is_one_line_of_stdin(installation: Installation) -> None:
    account = installation.account()
    result = installation.cascade("accounts", "login", account.id, "shop", stdin="s3cret pw\n")
    assert result.exit_code == 0, result.output
    assert "password set for login shop" in result.output
    assert "s3cret" not in result.output
    found = installation.login("shop")
    assert found is not None
    assert found.account_id == account.id
    assert is_password_of(found, "s3cret pw")  # its spaces kept, its newline not


def test_setting_it_again_replaces_the_password(installation: Installation) -> None:
    account = installation.account()
    installation.cascade("accounts", "login", account.id, "shop", stdin="first\n")
    result = installation.cascade("accounts", "login", account.id, "shop", stdin="second\r\n")
    assert result.exit_code == 0, result.output
    found = installation.login("shop")
    assert is_password_of(found, "second")
    assert not is_password_of(found, "first")


def test_at_a_terminal_the_password_is_asked_twice(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_interactive", lambda: True)
    account = installation.account()
    # the two entries differ: asked again, then set
    typed = "one\ntwo\nhunter22\nhunter22\n"
    result = installation.cascade("accounts", "login", account.id, "shop", stdin=typed)
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert "hunter22" not in result.output  # hidden as typed
    assert is_password_of(installation.login("shop"), "hunter22")


@pytest.mark.parametrize("stdin", ["", "\n", "\r\n"])
def test_an_empty_password_is_refused(installation: Installation, stdin: str) -> None:
    account = installation.account()
    result = installation.cascade("accounts", "login", account.id, "shop", stdin=stdin)
    assert result.exit_code == 1
    assert "the password is empty" in result.output
    assert installation.login("shop") is None


def test_an_unknown_account_is_refused(installation: Installation) -> None:
    result = installation.cascade("accounts", "login", str(uuid.uuid4()), "shop", stdin="pw\n")
    assert result.exit_code == 1
    assert "no account" in result.output
    assert installation.login("shop") is None


def test_a_login_of_another_account_is_refused(installation: Installation) -> None:
    first = installation.account("first")
    second = installation.account("second")
    installation.cascade("accounts", "login", first.id, "shop", stdin="first-pw\n")
    result = installation.cascade("accounts", "login", second.id, "shop", stdin="other\n")
    assert result.exit_code == 1
    assert "the login shop belongs to another account" in result.output
    found = installation.login("shop")
    assert found is not None
    assert found.account_id == first.id
    assert is_password_of(found, "first-pw")


@pytest.mark.parametrize(
    ("login", "reason"),
    [
        ("@", "reserved"),
        ("shop:1", "':'"),
        ("my shop", "spaces"),
        ("shop\x07", "control"),
        ("x" * 201, "longer than 200"),
    ],
)
def test_a_login_basic_cannot_carry_is_refused(
    installation: Installation, login: str, reason: str
) -> None:
    account = installation.account()
    result = installation.cascade("accounts", "login", account.id, login, stdin="pw\n")
    assert result.exit_code == 2
    assert reason in result.output
    assert installation.login(login) is None


def test_the_password_is_no_argument(installation: Installation) -> None:
    account = installation.account()
    result = installation.cascade("accounts", "login", account.id, "shop", "pw", stdin="pw\n")
    assert result.exit_code == 2  # click: unexpected extra argument
    assert installation.login("shop") is None


def test_suspend_and_resume(installation: Installation) -> None:
    account = installation.account()
    result = installation.cascade("accounts", "suspend", account.id)
    assert result.exit_code == 0, result.output
    assert "suspended" in result.output
    # SQLite: the API's hub is in another process, with no bus between them (README)
    assert "ChatHub connections open in a running `cascade up`" in result.output
    got = installation.store(lambda s: s.get_account(account.id))
    assert got.suspended is True
    result = installation.cascade("accounts", "resume", account.id)
    assert result.exit_code == 0, result.output
    assert installation.store(lambda s: s.get_account(account.id)) == account
    for command in ("suspend", "resume"):
        unknown = installation.cascade("accounts", command, str(uuid.uuid4()))
        assert unknown.exit_code == 1
        assert "no account" in unknown.output


# --- the demo login of `cascade up` ---------------------------------------------------------


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


async def authenticates_as(store: AccountStore, login: str, password: str) -> str | None:
    """The account id these credentials open on the core SMSBAT API, or None."""
    auth = Authenticator(store, ManualClock(), cache_seconds=0.0)
    answer = await authenticate_bat(auth, basic(login, password), "192.0.2.1")
    return answer.account.id if isinstance(answer, Principal) else None


async def test_the_demo_account_gets_its_login_and_keeps_it_across_runs() -> None:
    store = MemoryStore(ManualClock())
    first = await _prepare_demo(store, "demo-key", "demo", "generated-1")
    assert (first.login, first.password) == ("demo", "generated-1")
    assert await authenticates_as(store, "demo", "generated-1") == first.account.id
    # `up` again on the same database, with another password: it replaces the last
    again = await _prepare_demo(store, "demo-key", "demo", "generated-2")
    assert again.account == first.account
    assert await authenticates_as(store, "demo", "generated-2") == first.account.id
    assert await authenticates_as(store, "demo", "generated-1") is None


async def test_a_demo_login_of_another_account_stops_up() -> None:
    store = MemoryStore(ManualClock())
    other = await store.create_account("other", "Other")
    await store.set_login(other.id, "taken", "$argon2id$other")
    with pytest.raises(SystemExit, match="CASCADE_DEMO_LOGIN"):
        await _prepare_demo(store, "demo-key", "taken", "pw")
    found = await store.find_login("taken")
    assert found is not None
    assert found.account_id == other.id


def printed_login(log: Path) -> tuple[str, str, str]:
    """(account id, login, password) as `up`'s banner printed them."""
    output = log.read_text()
    account = re.search(r"demo account:\s+(\S+)", output)
    login = re.search(r"demo login:\s+(\S+)\s+password:\s+(\S+)", output)
    assert account, output
    assert login, output
    return account.group(1), login.group(1), login.group(2)


def opens(db_path: Path, login: str, password: str) -> str | None:
    async def run() -> str | None:
        store = SqlStore(f"sqlite:///{db_path}", SystemClock(), sqlite_synchronous="NORMAL")
        try:
            return await authenticates_as(store, login, password)
        finally:
            await store.close()

    return asyncio.run(run())


@pytest.mark.live
def test_up_prints_a_generated_demo_login_or_sets_the_chosen_one(tmp_path: Path) -> None:
    db_path = tmp_path / "demo.db"
    env = base_env(db_path)
    env["CASCADE_DEMO_KEY"] = "demo-key-" + uuid.uuid4().hex
    process = start_up(env, free_port(), tmp_path / "up.log")
    stop(process)
    account, login, generated = printed_login(tmp_path / "up.log")
    assert login == "demo"
    assert opens(db_path, "demo", generated) == account

    # again, on the same database, with a login and password chosen
    env["CASCADE_DEMO_LOGIN"] = "demo-ops"
    env["CASCADE_DEMO_PASSWORD"] = "chosen-Pa55word"
    process = start_up(env, free_port(), tmp_path / "up-again.log")
    stop(process)
    again, login, password = printed_login(tmp_path / "up-again.log")
    assert (again, login, password) == (account, "demo-ops", "chosen-Pa55word")
    assert opens(db_path, "demo-ops", "chosen-Pa55word") == account
    assert opens(db_path, "demo", generated) == account  # the first login is kept as it was
