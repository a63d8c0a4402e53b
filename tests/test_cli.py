"""The `cascade` command line (SPEC Part C): --help everywhere, accounts, keys, bots and
limits against a live server, and `cascade up` with a fixed demo key."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
import psutil
import pytest
from click.testing import CliRunner

from cascade.cli import main as cli_main
from tests.conftest import cascade_cli, start_server, stop_server, wait_until_up
from tests.ports import free_port, free_ports

SEND = "/api/CascadeMessage/send_message/async"


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI and return whatever happened (for the refusals)."""
    return subprocess.run(
        [sys.executable, "-m", "cascade", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def base_env(db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
    env["CASCADE_DATABASE_URL"] = f"sqlite:///{db_path}"
    env["CASCADE_SQLITE_SYNCHRONOUS"] = "NORMAL"
    return env


def post(base_url: str, headers: dict[str, str], tracking_id: str) -> httpx.Response:
    body = [
        {
            "id": tracking_id,
            "fromName": "Cli",
            "toPhone": "+380501234567",
            "messageType": "transaction",
            "text": "From the CLI test",
        }
    ]
    headers = {**headers, "Content-Type": "application/json"}
    return httpx.post(base_url + SEND, json=body, headers=headers, timeout=10)


def with_key(key: str) -> dict[str, str]:
    return {"X-Authorization-Key": key}


# --- --help everywhere ----------------------------------------------------------------------


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(command_paths(command, path))
    return found


def test_the_documented_commands_exist() -> None:
    paths = set(command_paths(cli_main))
    for expected in [
        ("migrate",),
        ("api",),
        ("up",),
        ("accounts", "create"),
        ("accounts", "limits"),
        ("keys", "create"),
        ("keys", "revoke"),
        ("bots", "add"),
    ]:
        assert expected in paths, expected


def test_help_everywhere(subtests: pytest.Subtests) -> None:
    """`--help` on the group and on every command and subcommand."""
    runner = CliRunner()
    outputs: dict[tuple[str, ...], str] = {}
    for path in [(), *command_paths(cli_main)]:
        with subtests.test(msg=" ".join(path) or "cascade"):
            result = runner.invoke(cli_main, [*path, "--help"], prog_name="cascade")
            assert result.exit_code == 0, result.output
            first = result.output.splitlines()[0]
            assert first.startswith(" ".join(("Usage: cascade", *path))), result.output
            outputs[path] = result.output

    top = outputs[()]
    for name in ("migrate", "accounts", "keys", "bots", "api", "up"):
        assert re.search(rf"^\s+{name}\s", top, re.MULTILINE), name
    for variable in ("CASCADE_DATABASE_URL", "CASCADE_REDIS_URL", "CASCADE_DEMO_KEY"):
        assert variable in top
    assert "--json" in outputs[("accounts", "create")]
    assert "--send-rate" in outputs[("accounts", "limits")]
    assert "--account" in outputs[("keys", "create")]
    assert "telegram" in outputs[("bots", "add")]
    assert "viber" in outputs[("bots", "add")]
    for serving in (("api",), ("up",)):
        assert "--port" in outputs[serving]
        assert "--host" in outputs[serving]


def test_help_as_a_real_process(tmp_path: Path) -> None:
    env = base_env(tmp_path / "unused.db")
    for args in (["--help"], ["accounts", "create", "--help"]):
        result = run(*args, env=env)
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout
    assert not (tmp_path / "unused.db").exists()  # --help touches no database


def test_short_help_option_and_console_script() -> None:
    script = Path(sys.executable).parent / "cascade"
    result = subprocess.run(
        [str(script), "-h"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


# --- accounts, keys, bots against a live server ------------------------------------------


@dataclass
class Installation:
    env: dict[str, str]
    base_url: str
    db_path: Path

    def cli(self, *args: str) -> str:
        return cascade_cli(*args, env=self.env)

    def create_account(self, name: str) -> dict[str, Any]:
        created: dict[str, Any] = json.loads(self.cli("accounts", "create", name, "--json"))
        return created


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """A migrated database and a live API server that caches no credentials."""
    db_path = tmp_path_factory.mktemp("cli") / "cli.db"
    env = base_env(db_path)
    env["CASCADE_AUTH_CACHE_SECONDS"] = "0"
    cascade_cli("migrate", env=env)
    port = free_port()
    server = start_server(["api"], env, port)
    try:
        yield Installation(env, server.base_url, db_path)
    finally:
        stop_server(server)


@pytest.mark.live
def test_migrate_is_safe_to_run_again(installation: Installation) -> None:
    assert "current" in installation.cli("migrate")


@pytest.mark.live
def test_accounts_create_json(installation: Installation) -> None:
    output = installation.cli("accounts", "create", "Acme Shop", "--json")
    created = json.loads(output)
    assert set(created) == {"accountId", "apiKey"}
    assert str(uuid.UUID(created["accountId"])) == created["accountId"]
    assert output.strip().count("\n") == 0  # one line: safe to pipe into jq
    response = post(installation.base_url, with_key(created["apiKey"]), "acct-json")
    assert response.status_code == 200, response.text


@pytest.mark.live
def test_accounts_create_for_people(installation: Installation) -> None:
    output = installation.cli("accounts", "create", "Human", "--from-name", "HumanCo")
    account_id = re.search(r"account id:\s+(\S+)", output)
    key = re.search(r"api key:\s+(\S+)", output)
    assert account_id
    assert key
    assert post(installation.base_url, with_key(key.group(1)), "acct-human").status_code == 200
    with sqlite3.connect(installation.db_path) as conn:
        row = conn.execute(
            "SELECT default_from_name FROM accounts WHERE id = ?", (account_id.group(1),)
        ).fetchone()
    assert row == ("HumanCo",)


@pytest.mark.live
def test_keys_create_and_revoke(installation: Installation) -> None:
    account = installation.create_account("keys")
    issued = json.loads(
        installation.cli("keys", "create", "--account", account["accountId"], "--json")
    )
    assert set(issued) == {"keyId", "apiKey"}
    assert issued["apiKey"] != account["apiKey"]
    base = installation.base_url
    assert post(base, with_key(issued["apiKey"]), "k-1").status_code == 200

    assert "revoked" in installation.cli("keys", "revoke", issued["keyId"])
    refused = post(base, with_key(issued["apiKey"]), "k-2")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "UNAUTHORIZED"
    # The account's first key is untouched.
    assert post(base, with_key(account["apiKey"]), "k-3").status_code == 200

    again = run("keys", "revoke", issued["keyId"], env=installation.env)
    assert again.returncode != 0
    assert "no active key" in again.stderr
    human = installation.cli("keys", "create", "--account", account["accountId"])
    assert re.search(r"api key:\s+\S+", human)


@pytest.mark.live
def test_keys_create_for_an_unknown_account(installation: Installation) -> None:
    result = run("keys", "create", "--account", str(uuid.uuid4()), env=installation.env)
    assert result.returncode != 0
    assert "no account" in result.stderr
    missing = run("keys", "create", env=installation.env)
    assert missing.returncode == 2  # usage error: --account is required


@pytest.mark.live
@pytest.mark.parametrize(
    ("kind", "header", "other_header"),
    [
        ("telegram", "X-Tg-Bot-Key", "X-Viber-Auth-Token"),
        ("viber", "X-Viber-Auth-Token", "X-Tg-Bot-Key"),
    ],
)
def test_bots_add_then_the_token_authenticates(
    installation: Installation, kind: str, header: str, other_header: str
) -> None:
    account = installation.create_account(f"bots-{kind}")
    token = f"{uuid.uuid4().int % 10**10}:{kind}-{uuid.uuid4().hex}"
    output = installation.cli("bots", "add", kind, token, "--account", account["accountId"])
    bot_id = re.search(r"bot id:\s+(\S+)", output)
    assert bot_id
    assert token not in output  # a bot token is a secret: never echoed
    base = installation.base_url
    response = post(base, {header: token}, f"bot-{kind}")
    assert response.status_code == 200, response.text
    # Together with the account's own key, too.
    both = {header: token, **with_key(account["apiKey"])}
    assert post(base, both, f"bot-{kind}-2").status_code == 200
    # Under the other bot header it is no credential.
    assert post(base, {other_header: token}, f"bot-{kind}-3").status_code == 401
    with sqlite3.connect(installation.db_path) as conn:
        row = conn.execute(
            "SELECT pinned_bots FROM messages WHERE tracking_id = ?", (f"bot-{kind}",)
        ).fetchone()
    assert row == (bot_id.group(1),)


@pytest.mark.live
def test_bots_add_refusals(installation: Installation) -> None:
    unknown = run(
        "bots", "add", "telegram", "123:abc", "--account", str(uuid.uuid4()), env=installation.env
    )
    assert unknown.returncode != 0
    assert "no account" in unknown.stderr
    account = installation.create_account("bots-bad-kind")
    bad_kind = run(
        "bots",
        "add",
        "whatsapp",
        "123:abc",
        "--account",
        account["accountId"],
        env=installation.env,
    )
    assert bad_kind.returncode == 2


@pytest.mark.live
def test_accounts_limits(installation: Installation) -> None:
    account = installation.create_account("limited")
    output = installation.cli(
        "accounts", "limits", account["accountId"], "--send-rate", "0.01", "--send-burst", "2"
    )
    assert "updated" in output
    headers = with_key(account["apiKey"])
    codes = [post(installation.base_url, headers, f"lim-{n}").status_code for n in range(3)]
    assert codes == [200, 200, 429]

    half = run("accounts", "limits", account["accountId"], "--send-rate", "5", env=installation.env)
    assert half.returncode == 2  # a rate without its burst
    unknown = run(
        "accounts",
        "limits",
        str(uuid.uuid4()),
        "--send-rate",
        "5",
        "--send-burst",
        "5",
        env=installation.env,
    )
    assert unknown.returncode != 0
    assert "no account" in unknown.stderr


def test_a_bad_setting_is_a_usage_error(tmp_path: Path) -> None:
    env = base_env(tmp_path / "x.db")
    env["CASCADE_SEND_RATE"] = "fast"
    result = run("accounts", "create", "x", env=env)
    assert result.returncode == 2
    assert "CASCADE_SEND_RATE" in result.stderr
    assert "Traceback" not in result.stderr


# --- cascade up -------------------------------------------------------------------------------


def start_up(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start `cascade up` and wait until it has printed its banner."""
    sim_port = free_ports(8)  # `up`'s simulators take seven, the sample media one
    args = ["up", "--host", "127.0.0.1", "--port", str(port), "--sim-port", str(sim_port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cascade", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, as in a terminal
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        deadline = time.monotonic() + 30
        while "demo API key" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    except AssertionError:
        process.kill()
        process.wait()
        raise
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.mark.live
def test_up_with_a_demo_key(tmp_path: Path) -> None:
    env = base_env(tmp_path / "demo.db")  # not migrated: `up` does it
    key = "demo-key-" + uuid.uuid4().hex
    env["CASCADE_DEMO_KEY"] = key
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    process = start_up(env, port, log)
    try:
        response = post(base, with_key(key), "cli-up-1")
        assert response.status_code == 200, response.text
        [accepted] = response.json()
        shown = httpx.get(
            f"{base}/api/CascadeMessage/status/{accepted['messageId']}",
            headers=with_key(key),
            timeout=10,
        )
        assert shown.status_code == 200
        assert httpx.get(base + "/readyz", timeout=10).status_code == 200

        output = log.read_text()
        assert key in output
        assert base in output
        # The printed curl line works as printed.
        curl = re.search(r"^\s*(curl -s \S+/send_message/async .*?\]')$", output, re.S | re.M)
        assert curl, output
        printed_id = re.search(r'"id":"([^"]+)"', curl.group(1))
        assert printed_id
        result = subprocess.run(
            ["bash", "-c", curl.group(1)], capture_output=True, text=True, timeout=30, check=False
        )
        assert result.returncode == 0, result.stderr
        [printed] = json.loads(result.stdout)
        assert printed["trackinId"] == printed_id.group(1)
        first_account = re.search(r"demo account:\s+(\S+)", output)
        assert first_account
    finally:
        stop(process)

    # Run again on the same database with the same key: the same demo account, key still valid.
    port = free_port()
    again_log = tmp_path / "up-again.log"
    process = start_up(env, port, again_log)
    try:
        second_account = re.search(r"demo account:\s+(\S+)", again_log.read_text())
        assert second_account
        assert second_account.group(1) == first_account.group(1)
        assert post(f"http://127.0.0.1:{port}", with_key(key), "cli-up-2").status_code == 200
    finally:
        stop(process)


def simulators_of(up: subprocess.Popen[bytes]) -> psutil.Process:
    """The process `up` runs its simulators in."""
    [found] = [
        child
        for child in psutil.Process(up.pid).children()
        if "spawn_main" in " ".join(child.cmdline())
    ]
    return found


@pytest.mark.live
def test_up_runs_its_simulators_in_a_process_it_stops_with_itself(tmp_path: Path) -> None:
    env = base_env(tmp_path / "demo.db")
    process = start_up(env, free_port(), tmp_path / "up.log")
    try:
        simulators = simulators_of(process)
        assert simulators.is_running()
    finally:
        stop(process)
    assert process.returncode == 0
    simulators.wait(timeout=15)  # gone with `up` (psutil.TimeoutExpired otherwise)

    # `up` killed outright: the simulators notice they are orphans and end
    process = start_up(env, free_port(), tmp_path / "up-killed.log")
    simulators = simulators_of(process)
    process.kill()
    process.wait()
    try:
        simulators.wait(timeout=15)
    finally:  # never leave them holding their ports
        with contextlib.suppress(psutil.NoSuchProcess):
            simulators.kill()


@pytest.mark.live
def test_up_stopped_with_its_whole_process_group_ends_cleanly(tmp_path: Path) -> None:
    # a terminal's Ctrl-C, or systemd's SIGTERM, reaches the simulators' process as well
    log = tmp_path / "up.log"
    process = start_up(base_env(tmp_path / "demo.db"), free_port(), log)
    simulators = simulators_of(process)
    try:
        # the simulators leave it to `up` when they stop: a signal of their own is ignored
        simulators.send_signal(signal.SIGTERM)
        with pytest.raises(psutil.TimeoutExpired):
            simulators.wait(timeout=2)
        assert process.poll() is None
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        stop(process)
    simulators.wait(timeout=15)
    assert "simulators' process ended" not in log.read_text()


@pytest.mark.live
def test_up_ends_with_an_error_when_its_simulators_end(tmp_path: Path) -> None:
    log = tmp_path / "up.log"
    process = start_up(base_env(tmp_path / "demo.db"), free_port(), log)
    try:
        simulators_of(process).kill()
        assert process.wait(timeout=30) != 0
    finally:
        stop(process)
    assert "the simulators' process ended" in log.read_text()


@pytest.mark.live
def test_up_refuses_to_start_when_a_simulator_port_is_taken(tmp_path: Path) -> None:
    sim_port = free_ports(8)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", sim_port + 3))  # the RCS simulator's
        taken.listen()
        args = ["up", "--port", str(free_port()), "--sim-port", str(sim_port)]
        result = run(*args, env=base_env(tmp_path / "demo.db"))
    assert result.returncode != 0
    assert "the simulators could not start (is a port in use?)" in result.stderr


@pytest.mark.live
def test_callbacks_add_obeys_the_callback_url_policy(installation: Installation) -> None:
    """The CLI registers under the same rule as the API: no inside address unless allowed."""
    account = installation.create_account("callbacks-policy")["accountId"]
    for url in ("http://127.0.0.1:9/", "http://169.254.169.254/latest", "http://a\r\nHost: b/"):
        refused = run("callbacks", "add", url, "--account", account, env=installation.env)
        assert refused.returncode == 2, refused.stdout
        assert "url" in refused.stderr
    allowed = run(
        "callbacks",
        "add",
        "http://127.0.0.1:9/",
        "--account",
        account,
        env={**installation.env, "CASCADE_ALLOW_PRIVATE_CALLBACKS": "1"},
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "secret:" in allowed.stdout


@pytest.mark.live
def test_callbacks_add_incoming_registers_a_url_for_messages_people_send_back(
    installation: Installation,
) -> None:
    account = installation.create_account("callbacks-incoming")["accountId"]
    env = {**installation.env, "CASCADE_ALLOW_PRIVATE_CALLBACKS": "1"}
    status = run("callbacks", "add", "http://127.0.0.1:9/status", "--account", account, env=env)
    incoming = run(
        "callbacks", "add", "http://127.0.0.1:9/in", "--account", account, "--incoming", env=env
    )
    assert (status.returncode, incoming.returncode) == (0, 0), incoming.stderr
    assert "kind:        status" in status.stdout
    assert "kind:        incoming" in incoming.stdout
    listed = run("callbacks", "list", "--account", account, env=env).stdout
    listed_incoming = run("callbacks", "list", "--account", account, "--incoming", env=env).stdout
    assert "/status" in listed
    assert "/in\n" not in listed
    assert listed_incoming.strip().endswith("http://127.0.0.1:9/in")
    assert "/status" not in listed_incoming
