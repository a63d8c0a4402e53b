"""`cascade send FILE.csv` and `cascade status ID` as an operator runs them: real
processes against a live API server on loopback, on a SQLite file both read."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import cascade_cli, start_server, stop_server
from tests.ports import free_port
from tests.test_cli import base_env, run

pytestmark = pytest.mark.live


@dataclass
class Installation:
    env: dict[str, str]
    base_url: str
    db_path: Path

    def account(self, name: str) -> tuple[str, str]:
        created = json.loads(cascade_cli("accounts", "create", name, "--json", env=self.env))
        return created["accountId"], created["apiKey"]

    def cascade(self, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
        keyed = {"CASCADE_API_KEY": key} if key is not None else {}
        return run(*args, env=self.env | keyed)

    def send(self, path: Path, key: str, *more: str) -> subprocess.CompletedProcess[str]:
        return self.cascade("send", str(path), "--url", self.base_url, *more, key=key)

    def stored(self, account_id: str) -> int:
        with sqlite3.connect(self.db_path) as db:
            [(n,)] = db.execute("SELECT count(*) FROM messages WHERE account_id = ?", [account_id])
        return int(n)


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    db_path = tmp_path_factory.mktemp("send") / "cascade.db"
    env = base_env(db_path)
    cascade_cli("migrate", env=env)
    server = start_server(["api"], env, free_port())
    try:
        yield Installation(env, server.base_url, db_path)
    finally:
        stop_server(server)


def summary(stdout: str) -> dict[str, int]:
    """The summary table's counts, by the row's first word."""
    counts: dict[str, int] = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 2 and cells[1].replace(",", "").isdigit():
            counts[cells[0].split()[0]] = int(cells[1].replace(",", ""))
    return counts


def test_a_missing_file_is_a_usage_error(installation: Installation, tmp_path: Path) -> None:
    result = installation.send(tmp_path / "nowhere.csv", "any-key")
    assert result.returncode == 2, result.stderr
    assert "nowhere.csv" in result.stderr
    assert "does not exist" in result.stderr


def test_no_phone_column_names_it_and_sends_nothing(
    installation: Installation, tmp_path: Path
) -> None:
    account_id, key = installation.account("no-phone")
    path = tmp_path / "list.csv"
    path.write_text("number,text\n+380501234567,Hello\n", encoding="utf-8")
    result = installation.send(path, key)
    assert result.returncode == 2, result.stderr
    assert "no 'phone' column" in result.stderr
    assert installation.stored(account_id) == 0
    assert not (tmp_path / "list.rejected.csv").exists()


def test_no_key_is_a_usage_error(installation: Installation, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("phone,text\n+380501234567,Hello\n", encoding="utf-8")
    result = installation.cascade("send", str(path), "--url", installation.base_url)
    assert result.returncode == 2
    assert "CASCADE_API_KEY" in result.stderr
    refused = installation.send(path, "not-a-key")
    assert refused.returncode == 1
    assert "refused the key (401)" in refused.stderr
    assert "run the same command again" in refused.stderr
    counts = summary(refused.stdout)
    assert counts == {"accepted": 0, "already": 0, "rejected": 0, "not": 1, "total": 1}


def test_a_bad_phone_is_rejected_with_its_error_and_the_rest_sent(
    installation: Installation, tmp_path: Path
) -> None:
    account_id, key = installation.account("bad-phone")
    path = tmp_path / "list.csv"
    path.write_text(
        "phone,text\n+380501234561,first\n0501234567,no country code\n+380501234562,third\n",
        encoding="utf-8",
    )
    result = installation.send(path, key)
    assert result.returncode == 1, result.stderr
    assert summary(result.stdout) == {"accepted": 2, "already": 0, "rejected": 1, "total": 3}
    rejected = tmp_path / "list.rejected.csv"
    assert str(rejected) in result.stdout.replace("\n", "")
    with rejected.open(encoding="utf-8") as f:
        [row] = list(csv.DictReader(f))
    assert (row["phone"], row["text"], row["line"]) == ("0501234567", "no country code", "3")
    assert row["error"].startswith("INVALID_PHONE")
    assert installation.stored(account_id) == 2

    # the row fixed, the file sent again: only it goes, and the stale list of rejects goes
    path.write_text(
        "phone,text\n+380501234561,first\n+380501234563,no country code\n+380501234562,third\n",
        encoding="utf-8",
    )
    again = installation.send(path, key)
    assert again.returncode == 0, again.stderr
    assert summary(again.stdout) == {"accepted": 1, "already": 2, "rejected": 0, "total": 3}
    assert not rejected.exists()
    assert installation.stored(account_id) == 3


def test_a_file_sent_end_to_end_then_again_then_its_timeline(
    installation: Installation, tmp_path: Path
) -> None:
    account_id, key = installation.account("bulk")
    path = tmp_path / "bulk.csv"
    rows = [
        f"+3805012{i:05d},Hello number {i},{'own-' + str(i) if i % 3 == 0 else ''}"
        for i in range(1_200)
    ]
    path.write_text("phone,text,id\n" + "\n".join(rows) + "\n", encoding="utf-8")
    first = installation.send(path, key, "--batch", "500")
    assert first.returncode == 0, first.stderr
    assert summary(first.stdout) == {"accepted": 1_200, "already": 0, "rejected": 0, "total": 1_200}
    assert "rows/s" in first.stderr  # the progress bar, with its rate
    assert installation.stored(account_id) == 1_200

    again = installation.send(path, key, "--batch", "500", "--route", "standard")
    assert again.returncode == 0, again.stderr
    assert summary(again.stdout) == {"accepted": 0, "already": 1_200, "rejected": 0, "total": 1_200}
    assert installation.stored(account_id) == 1_200

    shown = installation.cascade("status", "--tracking", "own-3", "--account", account_id)
    assert shown.returncode == 0, shown.stderr
    assert "+380501200003" in shown.stdout
    assert "accepted (cascade API, standard route, transaction)" in shown.stdout
    as_json = installation.cascade("status", "--tracking", "own-3", "--json")
    assert as_json.returncode == 0, as_json.stderr
    timeline = json.loads(as_json.stdout)
    assert timeline["history"]["account_id"] == account_id
    assert [e["kind"] for e in timeline["entries"]] == ["accepted"]
    by_id = installation.cascade("status", timeline["history"]["message_id"])
    assert by_id.returncode == 0
    assert "own-3" in by_id.stdout


def test_status_of_an_unknown_message(installation: Installation) -> None:
    result = installation.cascade("status", "0190f3c2-0000-7000-8000-000000000000")
    assert result.returncode == 1
    assert "no message with id 0190f3c2-0000-7000-8000-000000000000" in result.stderr
    tracking = installation.cascade("status", "--tracking", "never-sent", "--account", "acct-x")
    assert tracking.returncode == 1
    assert "no message with tracking id never-sent in account acct-x" in tracking.stderr
    neither = installation.cascade("status")
    assert neither.returncode == 2
    assert "MESSAGE_ID or --tracking" in neither.stderr
