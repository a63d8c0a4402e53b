"""`cascade api` as one Unix service: nothing it starts outlives it, and it stops when told.

Both ASGI servers run the API in worker processes that a supervisor process starts
(granian always, uvicorn with `--workers` above 1). Killed with SIGKILL, a supervisor
cannot stop them: they used to go on serving the port, adopted by PID 1, beside the copy a
restart started (issue 11). Here each worker asks the kernel to SIGKILL it when its
supervisor ends (Linux's `PR_SET_PDEATHSIG`), in `asgi_app`, the factory the servers
load in each worker; a worker whose supervisor ended before it asked ends at once. The
cost is one system call per worker at its start, nothing per request.

Granian forks its workers from its supervisor, so a worker began with the supervisor's
own SIGTERM/SIGINT handler, which only noted the signal in the worker's copy of the
supervisor until granian installed the worker's handlers, after the app was built: a
SIGTERM in those seconds was lost, and the supervisor waited for that worker for ever.
`reset_stop_signals_in_forked_workers` gives a forked worker the default SIGTERM (it
ends: it serves nothing yet) and ignores SIGINT (a Ctrl-C reaches every process of the
group; the supervisor then stops the worker with SIGTERM, as a stop it asked for).
`STOP_TIMEOUT_S` bounds, in both servers, how long a stop waits for requests in flight,
and in granian how long it waits for a worker that missed its SIGTERM: uvloop drops a
signal that arrives while its loop is paused, and a granian worker's loop pauses for some
milliseconds between the app's startup and serving (then the worker is killed).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from litestar import Litestar

APP_FACTORY = "cascade.service:asgi_app"
"""The servers' target (factory=True): `cascade.bootstrap.asgi_app`, dying with the supervisor."""

STOP_TIMEOUT_S = 10
"""On SIGTERM, how long a worker may take to finish its requests before it is killed:
well inside a supervisor's own grace (systemd 90 s, Kubernetes 30 s by default)."""

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> None:
    """In a server's worker process: SIGKILL it when the process that started it ends.

    A no-op outside a `multiprocessing` child (uvicorn with one worker serves in its own
    process) and outside Linux. The kernel sends the signal when the thread that started
    the child ends; both servers start their workers from their main thread, which ends
    only with the process.
    """
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None or sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    no = ctypes.c_ulong(0)
    if libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), no, no, no) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    if os.getppid() != parent.pid:  # it ended before the request: nobody would stop us
        os._exit(1)


def asgi_app() -> Litestar:
    """The API for one server worker, which ends with the process that started it."""
    die_with_parent()
    from cascade.bootstrap import asgi_app as build

    return build()


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def metrics_directory(workers: int) -> Iterator[str | None]:
    """With several server processes, a fresh directory where each writes its metrics
    (prometheus-client's multiprocess mode: a scrape of any answers their sum), named in
    `PROMETHEUS_MULTIPROC_DIR` for the processes this one starts, and removed at the end.
    One the operator set already is used as it is (and its emptying left to them); one
    process needs none."""
    if workers <= 1 or os.environ.get(MULTIPROC_ENV):
        yield os.environ.get(MULTIPROC_ENV) or None
        return
    path = tempfile.mkdtemp(prefix="cascade-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def reset_stop_signals_in_forked_workers() -> None:
    """From now on, a process forked from this one starts with the default SIGTERM and an
    ignored SIGINT, until it installs handlers of its own (call before granian forks)."""
    os.register_at_fork(after_in_child=_worker_stop_signals)


def _worker_stop_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
