"""The README's `sh` blocks, for the tests that run them as printed."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
API = "http://127.0.0.1:8080"  # `make up`'s, as the README writes them


def section(heading: str) -> str:
    """The README's text under `heading` (a whole line such as `## Prices`), up to the
    next heading of its level or above (a shell comment's `# ` is no heading)."""
    text = README.read_text()
    assert heading in text
    level = len(heading) - len(heading.lstrip("#"))
    return re.split(rf"\n#{{2,{level}}} ", text.split(heading, 1)[1], maxsplit=1)[0]


def sh_blocks(heading: str) -> list[str]:
    """The section's `sh` blocks, in order (dedented: a block may sit in a list item)."""
    return [textwrap.dedent(b) for b in re.findall(r"```sh\n(.*?)```", section(heading), re.S)]


def sh(command: str, env: dict[str, str] | None = None) -> str:
    """What `command` printed, run by bash; it must succeed."""
    result = subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, (command, result.stderr)
    return result.stdout
