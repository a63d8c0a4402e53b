"""`st run` (schemathesis's own command line) against a live server's `/openapi.json`,
every check on, with a fixed seed; the test fails with schemathesis's report. Used by
test_openapi_conformance.py and test_chathub_openapi.py (which says why `st run` and
not its pytest integration)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cascade_cli


def st_run(
    base_url: str, config: str, hooks: Path, tmp_path: Path, seed: int, *options: str
) -> str:
    """Run it with `config` (schemathesis.toml's text) and `hooks`; its output."""
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(config)
    command = [
        sys.executable,
        *("-m", "schemathesis.cli", "--config-file", str(config_file), "--no-color", "run"),
        f"{base_url}/openapi.json",
        *("--checks", "all", "--seed", str(seed)),
        *("--workers", "1", "--request-timeout", "10"),
        *options,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
    env["SCHEMATHESIS_HOOKS"] = str(hooks)
    # Its run data (.hypothesis, .schemathesis for `st replay`) stays in the test's directory.
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"st run failed (exit {result.returncode}; its run data is in {tmp_path}):\n"
            f"{result.stdout}{result.stderr}",
            pytrace=False,
        )
    return result.stdout


# Warnings that mean a run did not test what it claims to, so they fail it too: every
# request refused for its credentials, answered 429, sent elsewhere than the server, or a
# known id that never reached its operation.
FAIL_ON_WARNINGS = [
    "missing_auth",
    "rate_limited",
    "base_url_mismatch",
    "dictionary_mismatch",
]


def st_config(api_key: str, known: dict[str, tuple[str, object]]) -> str:
    """schemathesis.toml: what `st run` has no option for (dictionaries, their bindings,
    warnings that fail the run) and the key, kept out of the process list. `known` maps a
    parameter (`path.chatId`) to a dictionary's name and the known value mixed (half the
    time) into the generated ones, so lookups find something. Strings are quoted as JSON,
    which TOML's basic strings accept."""

    def q(value: object) -> str:
        return json.dumps(value)

    lines = [f"headers = {{ {q('X-Authorization-Key')} = {q(api_key)} }}", ""]
    lines += ["[generation]", "with-security-parameters = false", 'database = "none"', ""]
    lines += ["[warnings]", f"fail-on = [{', '.join(q(w) for w in FAIL_ON_WARNINGS)}]", ""]
    for name, value in known.values():
        lines += [f"[dictionaries.{name}]", f"values = [{q(value)}]", ""]
    lines.append("[parameters]")
    for parameter, (name, _) in known.items():
        lines.append(f"{q(parameter)} = {{ dictionary = {q(name)}, probability = 0.5 }}")
    return "\n".join(lines) + "\n"


UNLIMITED = "1000000"  # requests/s and burst, far above what one schemathesis worker sends


def server_env(tmp: Path, port: int) -> dict[str, str]:
    """The environment of a `cascade api` on `port` over a SQLite file in `tmp`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
    env["CASCADE_DATABASE_URL"] = f"sqlite:///{tmp / 'cascade.db'}"
    env["CASCADE_SQLITE_SYNCHRONOUS"] = "NORMAL"
    env["CASCADE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    return env


def unlimited_account(env: dict[str, str]) -> dict[str, str]:
    """The database migrated and an account made through the CLI (`accountId`, `apiKey`)
    whose rate limits never bite: 429 is documented, the point is every other answer."""
    cascade_cli("migrate", env=env)
    created: dict[str, str] = json.loads(
        cascade_cli("accounts", "create", "schemathesis", "--json", env=env)
    )
    cascade_cli(
        "accounts",
        "limits",
        created["accountId"],
        *("--send-rate", UNLIMITED, "--send-burst", UNLIMITED),
        *("--status-rate", UNLIMITED, "--status-burst", UNLIMITED),
        env=env,
    )
    return created
