"""Charts drawn on the server as SVG: no script in the page, nothing fetched from
anywhere. This module only places things (coordinates, ticks, labels); the templates
draw them. Series are values per time bucket; bars stand side by side within a bucket's
slot, lines join the buckets that have a value (a bucket with none breaks the line)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

WIDTH = 720
HEIGHT = 220
LEFT = 56  # room for the y axis' labels
RIGHT = 12
TOP = 12
BOTTOM = 28  # room for the x axis' labels
X_LABELS = 6


@dataclass(frozen=True, slots=True)
class Rect:
    series: int  # which series: its colour
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True, slots=True)
class Line:
    series: int
    points: str  # "x,y x,y …", for <polyline points>


@dataclass(frozen=True, slots=True)
class Dot:
    """A value with no neighbour to join: a line of one point draws nothing."""

    series: int
    x: float
    y: float
    title: str


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # y for the value axis, x for the time axis
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    names: tuple[str, ...]  # the series, in colour order
    rects: tuple[Rect, ...]
    lines: tuple[Line, ...]
    dots: tuple[Dot, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM
    empty: bool = False  # no value above zero: the chart says so


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times 10^k at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)  # unreachable: ten times power is always enough


def _y(value: float, top_value: float) -> float:
    plot = HEIGHT - BOTTOM - TOP
    return round(HEIGHT - BOTTOM - plot * value / top_value, 1)


def chart(
    title: str,
    starts: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    kind: str,
    label: Callable[[float], str] = lambda v: f"{v:g}",
) -> Chart:
    """A bar or line chart of `series` (name → one value per bucket) over buckets whose
    starts read `starts`."""
    if kind not in ("bars", "lines"):
        raise ValueError(f"a chart is bars or lines, not {kind!r}")
    count = len(starts)
    if any(len(values) != count for values in series.values()):
        raise ValueError("every series has one value per bucket")
    names = tuple(series)
    values = [v for vs in series.values() for v in vs if v is not None]
    top = nice_ceiling(max(values, default=0.0))
    slot = (WIDTH - LEFT - RIGHT) / max(count, 1)
    rects: list[Rect] = []
    lines: list[Line] = []
    dots: list[Dot] = []
    for n, name in enumerate(names):
        if kind == "bars":
            width = slot * 0.8 / len(names)
            for i, value in enumerate(series[name]):
                if not value:
                    continue
                y = _y(value, top)
                x = LEFT + i * slot + slot * 0.1 + n * width
                tip = f"{starts[i]}: {name} {label(value)}"
                rects.append(
                    Rect(n, round(x, 1), y, round(width, 1), round(HEIGHT - BOTTOM - y, 1), tip)
                )
        else:
            run: list[tuple[float, float, str]] = []
            for i, value in enumerate([*series[name], None]):
                if value is None:
                    if len(run) == 1:
                        dots.append(Dot(n, *run[0]))
                    elif run:
                        lines.append(Line(n, " ".join(f"{x},{y}" for x, y, _ in run)))
                    run = []
                    continue
                x = round(LEFT + (i + 0.5) * slot, 1)
                run.append((x, _y(value, top), f"{starts[i]}: {name} {label(value)}"))
    y_ticks = tuple(Tick(_y(top * f, top), label(top * f)) for f in (0, 0.5, 1))
    every = max(1, math.ceil(count / X_LABELS))
    x_ticks = tuple(
        Tick(round(LEFT + (i + 0.5) * slot, 1), starts[i]) for i in range(0, count, every)
    )
    # a single point is no line: it shows as a dot (a line of one point draws nothing)
    lines = [
        Line(ln.series, f"{ln.points} {ln.points}") if " " not in ln.points else ln for ln in lines
    ]
    return Chart(
        title,
        names,
        tuple(rects),
        tuple(lines),
        tuple(dots),
        y_ticks,
        x_ticks,
        empty=not any(v for v in values),
    )


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    x: float
    width: float
    count: int


BAR_WIDTH = 400


def stacked(counts: Sequence[tuple[str, int]], width: int = BAR_WIDTH) -> tuple[Segment, ...]:
    """One bar of `width` cut in segments as the counts share it (the empty ones left
    out); the widths add up to `width` exactly, the last one taking what rounding left."""
    total = sum(n for _, n in counts)
    if total == 0:
        return ()
    shown = [(name, n) for name, n in counts if n > 0]
    segments: list[Segment] = []
    x = 0.0
    for i, (name, n) in enumerate(shown):
        w = round(width - x, 1) if i == len(shown) - 1 else round(width * n / total, 1)
        segments.append(Segment(name, round(x, 1), w, n))
        x += w
    return tuple(segments)
