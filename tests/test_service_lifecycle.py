"""`cascade api` and `cascade worker` as Unix services (issue 11): SIGTERM and SIGINT stop
everything they started, promptly and with a clean exit, and nothing they started outlives
them, even when they are killed with SIGKILL.

Each test starts the real command on a loopback port, waits until it serves, records every
process it started, signals it, and then waits (polling, with a generous bound for a slow
machine) until the port refuses connections and every recorded process is gone. Whatever a
test leaves running is killed afterwards by its recorded process id.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.conftest import cascade_cli, wait_until_up
from tests.ports import free_port

STARTUP_S = 60  # a slow machine importing the app in two workers at once
GONE_S = 30  # for the processes to end and the port to close once they should


@dataclass
class Service:
    """One `cascade …` process, its log, and every process it was seen to start."""

    process: subprocess.Popen[bytes]
    log: Path
    started: list[psutil.Process] = field(default_factory=list)

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def record_children(self, at_least: int) -> list[psutil.Process]:
        """Wait until it has started `at_least` processes; record all it has started."""
        deadline = time.monotonic() + STARTUP_S
        while True:
            assert self.process.poll() is None, f"it exited early:\n{self.output()}"
            with contextlib.suppress(psutil.NoSuchProcess):
                children: list[psutil.Process] = psutil.Process(self.process.pid).children(
                    recursive=True
                )
                if len(children) >= at_least:
                    self.started = children
                    return children
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {at_least} children:\n{self.output()}")
            time.sleep(0.05)

    def wait_exit(self) -> int:
        try:
            return self.process.wait(timeout=GONE_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"still running {GONE_S}s after the signal:\n{describe(self.started)}\n"
                f"{self.output()}"
            ) from None


@contextlib.contextmanager
def running(
    args: list[str], env: dict[str, str], log: Path, new_session: bool = False
) -> Iterator[Service]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cascade", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    service = Service(process, log)
    try:
        yield service
    finally:
        # whatever the test left behind, by the ids it recorded (never by name)
        if process.poll() is None:
            process.kill()
        process.wait()
        for child in service.started:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def alive(process: psutil.Process) -> bool:
    """Running, and not merely a zombie (which holds no socket and serves nothing)."""
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def describe(processes: list[psutil.Process]) -> str:
    lines = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            if alive(process):
                lines.append(f"  pid {process.pid} (parent {process.ppid()}): {process.cmdline()}")
    return "\n".join(lines) or "  (none alive)"


def wait_all_gone(processes: list[psutil.Process], service: Service | None = None) -> None:
    deadline = time.monotonic() + GONE_S
    while any(alive(p) for p in processes):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"processes still run {GONE_S}s later:\n{describe(processes)}\n"
                + (service.output() if service else "")
            )
        time.sleep(0.05)


def refuses(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
        except OSError:  # e.g. a timeout: not a refusal
            return False
    return False


def wait_port_closed(port: int, service: Service) -> None:
    deadline = time.monotonic() + GONE_S
    while not refuses(port):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"port {port} still accepts connections {GONE_S}s later:\n"
                f"{describe(service.started)}\n{service.output()}"
            )
        time.sleep(0.05)


def wait_healthy(port: int, service: Service) -> None:
    url = f"http://127.0.0.1:{port}/healthz"
    wait_until_up(url, service.process, STARTUP_S, service.output)


def wait_log(service: Service, text: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while text not in service.output():
        assert service.process.poll() is None, f"it exited early:\n{service.output()}"
        if time.monotonic() > deadline:
            raise AssertionError(f"no {text!r} in {STARTUP_S}s:\n{service.output()}")
        time.sleep(0.05)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A fresh, migrated SQLite database and no CASCADE_* setting of the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
    env["CASCADE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cascade.db'}"
    env["CASCADE_SQLITE_SYNCHRONOUS"] = "NORMAL"
    env["CASCADE_LOG_LEVEL"] = "info"
    cascade_cli("migrate", env=env)
    return env


@contextlib.contextmanager
def api(
    env: dict[str, str], tmp_path: Path, server: str, workers: int
) -> Iterator[tuple[Service, int]]:
    """`cascade api` serving on a fresh port, with the processes it started recorded."""
    port = free_port()
    args = ["api", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--server", server, "--workers", str(workers)]
    with running(args, env, tmp_path / "api.log") as service:
        wait_healthy(port, service)
        # granian always runs its workers as children; uvicorn only for --workers > 1
        service.record_children(workers if server == "granian" or workers > 1 else 0)
        yield service, port


# --- cascade api ------------------------------------------------------------------------------

SERVERS = [
    pytest.param("granian", 1, id="granian"),
    pytest.param("granian", 2, id="granian-2-workers"),
    pytest.param("uvicorn", 2, id="uvicorn-2-workers"),
]


@pytest.mark.live
@pytest.mark.parametrize(("server", "workers"), SERVERS)
def test_api_killed_leaves_nothing_serving(
    env: dict[str, str], tmp_path: Path, server: str, workers: int
) -> None:
    """SIGKILL (a crash, an OOM kill, a supervisor giving up): its workers end with it and
    the port is free, so a supervisor's restart is the only copy serving."""
    with api(env, tmp_path, server, workers) as (service, port):
        service.process.send_signal(signal.SIGKILL)
        service.process.wait(timeout=GONE_S)
        wait_port_closed(port, service)
        wait_all_gone(service.started, service)


@pytest.mark.live
@pytest.mark.parametrize(
    ("server", "workers"), [*SERVERS, pytest.param("uvicorn", 1, id="uvicorn")]
)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_api_stops_on_signal(
    env: dict[str, str], tmp_path: Path, server: str, workers: int, signum: signal.Signals
) -> None:
    """SIGTERM (a supervisor's stop) or SIGINT, the moment it first answers: the processes
    it started stop with it (a worker still starting too) and it exits 0."""
    with api(env, tmp_path, server, workers) as (service, port):
        service.process.send_signal(signum)
        code = service.wait_exit()
        wait_all_gone(service.started, service)
        wait_port_closed(port, service)
        # uvicorn serving in its own process ends, once stopped, by the signal it was sent
        # (raised again after its shutdown, as Unix programs do; systemd counts it clean)
        in_process = server == "uvicorn" and workers == 1
        assert code == (-signum if in_process and signum == signal.SIGTERM else 0), service.output()


@pytest.mark.live
def test_api_stops_on_ctrl_c(env: dict[str, str], tmp_path: Path) -> None:
    """Ctrl-C in a terminal: SIGINT reaches the whole process group, workers included."""
    port = free_port()
    args = ["api", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    # a process group of its own, as a shell's foreground job
    with running(args, env, tmp_path / "api.log", new_session=True) as service:
        wait_healthy(port, service)
        service.record_children(2)
        os.killpg(service.process.pid, signal.SIGINT)
        code = service.wait_exit()
        wait_all_gone(service.started, service)
        wait_port_closed(port, service)
        assert code == 0, service.output()


# --- cascade worker ---------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["SIGTERM", "SIGINT", "SIGKILL"]
)
def test_worker_signals(env: dict[str, str], tmp_path: Path, signum: signal.Signals) -> None:
    """The delivery worker is one process: it starts none, stops cleanly on SIGTERM and
    SIGINT, and a SIGKILL leaves no process behind (what it had claimed is taken over:
    test_e2e_delivery's worker killed mid-batch)."""
    with running(["worker"], env, tmp_path / "worker.log") as service:
        wait_log(service, " started")
        assert service.record_children(0) == [], "the worker started processes of its own"
        service.process.send_signal(signum)
        code = service.wait_exit()
        assert code == (-signal.SIGKILL if signum == signal.SIGKILL else 0), service.output()
        wait_all_gone(service.started, service)


# --- the two mechanisms, each on its own -------------------------------------------------------

_LATE_WORKER = """
import multiprocessing, os, sys, time
from cascade.service import die_with_parent

def late_worker(marker):
    parent = multiprocessing.parent_process()
    deadline = time.monotonic() + 30
    while os.getppid() == parent.pid and time.monotonic() < deadline:
        time.sleep(0.01)
    die_with_parent()  # too late: its parent has ended already
    open(marker, "w").close()

if __name__ == "__main__":
    child = multiprocessing.get_context("fork").Process(target=late_worker, args=(sys.argv[1],))
    child.start()
    print(child.pid, flush=True)
    os._exit(0)  # ends without stopping it, as a supervisor killed with SIGKILL
"""


def test_a_worker_whose_parent_ended_first_does_not_start(tmp_path: Path) -> None:
    """The parent may end between a worker's start and its asking for the parent-death
    signal (which is then never sent): the worker must see that and end by itself."""
    marker = tmp_path / "went-on"
    result = subprocess.run(
        [sys.executable, "-c", _LATE_WORKER, str(marker)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    with contextlib.suppress(psutil.NoSuchProcess):  # (gone already)
        wait_all_gone([psutil.Process(int(result.stdout))])
    assert not marker.exists(), "a worker went on after its parent had ended"


_FORKED_SIGNALS = """
import os, signal, sys
from cascade.service import reset_stop_signals_in_forked_workers

def supervisor(signum, frame):  # granian's supervisor sets handlers like this before forking
    pass

signal.signal(signal.SIGTERM, supervisor)
signal.signal(signal.SIGINT, supervisor)
reset_stop_signals_in_forked_workers()
pid = os.fork()
if pid == 0:
    term, intr = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    os._exit(0 if (term, intr) == (signal.SIG_DFL, signal.SIG_IGN) else 1)
_, status = os.waitpid(pid, 0)
assert signal.getsignal(signal.SIGTERM) is supervisor  # the supervisor keeps its own
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_worker_does_not_start_with_the_supervisors_signal_handlers() -> None:
    """Until granian installs a worker's handlers (after building the app), a SIGTERM ends
    it, and a SIGINT (Ctrl-C, to the whole group) is left to the supervisor."""
    subprocess.run([sys.executable, "-c", _FORKED_SIGNALS], timeout=60, check=True)
