"""/metrics from real processes on loopback: a worker's metrics port; `cascade api
--workers 2`, whose processes count apart and answer a scrape with their sum; `cascade up`,
whose one endpoint shows what its API and its engine count."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import cascade_cli, start_server, stop_server, wait_until_up
from tests.ports import free_port
from tests.test_cli import base_env, start_up, stop

TEXT_FORMAT = "text/plain; version=0.0.4"
SEND = "/api/CascadeMessage/send_message/async"


def scrape(url: str) -> dict[str, float]:
    """Each sample of a fresh connection's scrape, by name and labels."""
    answer = httpx.get(url, timeout=5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(TEXT_FORMAT)
    return {
        f"{s.name}{sorted(s.labels.items())}": s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def test_a_worker_serves_its_metrics_port(live_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env = {**live_env, "CASCADE_METRICS_PORT": str(port), "CASCADE_CHANNELS": "sms"}
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "cascade", "worker"], env=env, stdout=log, stderr=log
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_until_up(url, worker, output=(tmp_path / "worker.log").read_text)
        found = scrape(url)
        assert found["cascade_due_tasks[]"] == 0
        assert found["cascade_smpp_window_in_flight[('channel', 'sms')]"] == 0
        assert found["cascade_smpp_window_size[('channel', 'sms')]"] >= 1
        for status in ("new", "open", "waiting", "on_pause", "closed"):
            assert found[f"cascade_chats[('status', '{status}')]"] == 0
    finally:
        worker.terminate()
        worker.wait(timeout=15)
        log.close()


def metrics_dirs(server: psutil.Process) -> dict[int, Path]:
    """Each server process's multiprocess metrics directory, by pid (from its open files)."""
    found: dict[int, Path] = {}
    for child in server.children(recursive=True):
        for opened in child.open_files():
            path = Path(opened.path)
            if path.parent.name.startswith("cascade-metrics-"):
                found[child.pid] = path.parent
    return found


def test_api_processes_answer_the_sum(live_env: dict[str, str]) -> None:
    created = json.loads(cascade_cli("accounts", "create", "multi", "--json", env=live_env))
    headers = {"X-Authorization-Key": created["apiKey"], "Content-Type": "application/json"}
    port = free_port()
    server = start_server(["api", "--workers", "2"], live_env, port)
    supervisor = psutil.Process(server.process.pid)
    accepted = 0
    try:

        def send(n: int) -> int:
            body = [
                {
                    "id": f"multi-{n}",
                    "fromName": "Shop",
                    "toPhone": f"+38050777{n:04d}",
                    "messageType": "transaction",
                    "text": "Hello",
                }
            ]
            # a connection of its own, so either process may take it
            answer = httpx.post(server.base_url + SEND, json=body, headers=headers, timeout=10)
            return 1 if answer.status_code == 200 else 0

        counted: dict[int, Path] = {}
        sent = 0
        deadline = time.monotonic() + 60
        with ThreadPoolExecutor(8) as pool:
            # until both processes have counted an accepted message of their own
            while time.monotonic() < deadline:
                accepted += sum(pool.map(send, range(sent, sent + 8)))
                sent += 8
                dirs = metrics_dirs(supervisor)
                counted = {pid: d for pid, d in dirs.items() if (d / f"counter_{pid}.db").exists()}
                if len(counted) == 2:
                    break
        assert len(counted) == 2, f"the requests did not spread: {metrics_dirs(supervisor)}"
        [directory] = set(counted.values())
        assert accepted > 0
        account = f"[('account', '{created['accountId']}')]"
        for _ in range(10):  # whichever process answers, the sum
            assert (
                scrape(server.base_url + "/metrics")[f"cascade_messages_accepted_total{account}"]
                == accepted
            )
    finally:
        stop_server(server)
    assert not directory.exists()  # `cascade api` removed what it made


@pytest.mark.live
def test_up_shows_what_its_api_and_engine_count(tmp_path: Path) -> None:
    env = base_env(tmp_path / "up.db")
    key = "metrics-demo-key"
    env["CASCADE_DEMO_KEY"] = key
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    up = start_up(env, port, log)
    try:
        account = re.search(r"demo account:\s+(\S+)", log.read_text())
        assert account
        body = [
            {
                "id": "metrics-up-1",
                "fromName": "Demo",
                "toPhone": "+380501230001",  # the persona that is on Telegram
                "messageType": "transaction",
                "text": "Hello",
            }
        ]
        headers = {"X-Authorization-Key": key}
        sent = httpx.post(f"{base}{SEND}", json=body, headers=headers, timeout=10)
        assert sent.status_code == 200, sent.text
        status_url = f"{base}/api/CascadeMessage/status/{sent.json()[0]['messageId']}"
        deadline = time.monotonic() + 30
        while httpx.get(status_url, headers=headers, timeout=10).json()["status"] != "delivered":
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        found = scrape(base + "/metrics")
        accepted = f"cascade_messages_accepted_total[('account', '{account.group(1)}')]"
        assert found[accepted] == 1
        telegram = "[('channel', 'telegram'), ('outcome', 'delivered')]"
        assert found[f"cascade_attempts_total{telegram}"] == 1
        assert found["cascade_smpp_window_size[('channel', 'sms')]"] >= 1
    finally:
        stop(up)


def test_the_entry_points_leave_prometheus_client_unimported() -> None:
    """prometheus-client picks its multiprocess mode when imported, and `cascade api` runs
    the entry points (its logging comes from the composition root) before it names the
    directory its server processes count in: they must not import the library."""
    check = (
        "import sys\n"
        "import cascade.__main__, cascade.cli, cascade.bootstrap, cascade.service\n"
        "import cascade.embedded\n"
        "print(sorted(m for m in sys.modules if m.startswith('prometheus_client')))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=True
    )
    assert found.stdout.strip() == "[]", found.stdout
