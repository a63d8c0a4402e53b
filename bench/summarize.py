"""Turn the outputs kept in bench/results/ (by run_all.sh) into Markdown tables.

.venv/bin/python bench/summarize.py            # all tables, for BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
RUN = re.compile(r"^=== (\S+) run(?: \d+)?: (.*)$")
ROW = re.compile(r"^\|\s*(.*?)\s*\|\s*(.*?)\s*\|$")

COLUMNS = {
    "bulk": [
        ("throughput", "messages/s"),
        ("target", "target"),
        ("request latency p50 / p90 / p99 / max", "request p50/p90/p99/max ms"),
        ("server CPU (all its processes)", "server CPU"),
        ("PostgreSQL CPU (backends of this database)", "PostgreSQL CPU"),
        ("server CPU per 1,000 messages", "server CPU/1k msgs"),
        ("OTHER processes' CPU (noise)", "others' CPU (noise)"),
        ("load average before / after", "load avg before / after"),
    ],
    "latency": [
        ("end to end (the figure)", "p50 / p90 / p99 / p99.9 / max ms"),
        ("requests measured / succeeded", "measured / ok"),
        ("target", "target"),
        ("server CPU (all its processes)", "server CPU"),
        ("PostgreSQL CPU (backends of this database)", "PostgreSQL CPU"),
        ("OTHER processes' CPU (noise)", "others' CPU (noise)"),
        ("load average before / after", "load avg before / after"),
    ],
    "memory": [
        ("messages accepted", "accepted"),
        ("wall time / throughput", "wall / throughput"),
        ("PEAK RSS of the largest (API) process", "PEAK RSS, API process"),
        ("peak PSS, sum over the server tree", "peak PSS, tree"),
        ("peak RSS, sum over the tree (double counts)", "peak RSS sum, tree"),
        ("target < 150 MiB: API process / tree PSS", "target"),
        ("OTHER processes' CPU (noise)", "others' CPU (noise)"),
        ("load average before / after", "load avg before / after"),
    ],
}


def runs(path: Path) -> list[tuple[str, str, dict[str, str]]]:
    found: list[tuple[str, str, dict[str, str]]] = []
    for line in path.read_text().splitlines():
        match = RUN.match(line)
        if match:
            found.append((match.group(1), match.group(2), {}))
            continue
        row = ROW.match(line)
        if row and found:
            found[-1][2].setdefault(row.group(1), row.group(2))
    return found


def markdown(kind: str) -> str:
    columns = [*COLUMNS[kind], ("code (git)", "code")]
    head = ["when (UTC)", "command", *(title for _, title in columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    prefixes = ("latency", "sweep") if kind == "latency" else (kind,)
    for path in sorted(RESULTS.glob("*.txt")):
        if not path.name.startswith(prefixes):
            continue
        for when, command, values in runs(path):
            cells = [when[11:19], f"`{command}`", *(short(values.get(k, "-")) for k, _ in columns)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def short(cell: str) -> str:
    for verdict in ("MET", "MISSED"):
        if cell.endswith(f"({verdict})") or cell == verdict:
            return verdict
    return cell.removesuffix(" messages/s").removesuffix(" ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kinds", nargs="*", default=["bulk", "latency", "memory"])
    for kind in parser.parse_args().kinds:
        print(f"### {kind}\n\n{markdown(kind)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
