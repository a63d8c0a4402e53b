"""Node and the official `@microsoft/signalr` package for tests (tests/node/).

`make install-test` installs the package from tests/node/package-lock.json; a test run
without it installs it here first. No Node or npm: skipped locally, failed in CI.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests import services

NODE_DIR = Path(__file__).parent / "node"


def node() -> str:
    """The node binary, with the package installed (or the test skipped / failed)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        services.unavailable("Node.js", "node and npm are needed for the official SignalR client")
        raise AssertionError("unreachable")
    if not (NODE_DIR / "node_modules" / "@microsoft" / "signalr").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300
        )
    return node
