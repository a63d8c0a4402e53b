"""The console's SVG charts are placed by pure functions: bars and lines on a value axis
rounded up to 1, 2 or 5 times a power of ten, a gap in a line where a bucket has no
value, a lone value as a dot, and stacked bars whose segments fill their width exactly."""

from __future__ import annotations

import pytest

from cascade.api.console.charts import (
    BOTTOM,
    HEIGHT,
    TOP,
    chart,
    nice_ceiling,
    stacked,
)


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        (0, 1),
        (-3, 1),
        (0.3, 0.5),
        (1, 1),
        (1.2, 2),
        (3, 5),
        (7, 10),
        (10, 10),
        (11, 20),
        (4_001, 5_000),
    ],
)
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


def test_bars_stand_on_the_baseline_and_reach_their_value() -> None:
    drawn = chart("t", ["a", "b", "c"], {"x": [0, 5, 10], "y": [10, None, 0]}, kind="bars")
    assert drawn.title == "t"
    assert [t.label for t in drawn.y_ticks] == ["0", "5", "10"]
    bottom, plot = HEIGHT - BOTTOM, HEIGHT - BOTTOM - TOP
    by_value = {r.title: r for r in drawn.rects}
    assert set(by_value) == {"b: x 5", "c: x 10", "a: y 10"}  # zeros and gaps draw nothing
    assert by_value["c: x 10"].height == pytest.approx(plot)
    assert by_value["b: x 5"].height == pytest.approx(plot / 2)
    for r in drawn.rects:
        assert r.y + r.height == pytest.approx(bottom)
    assert by_value["a: y 10"].series == 1
    assert not drawn.empty


def test_lines_break_at_a_gap_and_a_lone_value_is_a_dot() -> None:
    drawn = chart("t", list("abcde"), {"ms": [1, 2, None, 4, None]}, kind="lines")
    assert len(drawn.lines) == 1
    assert len(drawn.lines[0].points.split()) == 2
    [dot] = drawn.dots
    assert dot.title == "d: ms 4"


def test_an_empty_chart_says_so_and_bad_shapes_are_refused() -> None:
    assert chart("t", ["a"], {"x": [0]}, kind="bars").empty
    with pytest.raises(ValueError, match="bars or lines"):
        chart("t", ["a"], {"x": [1]}, kind="pie")
    with pytest.raises(ValueError, match="one value per bucket"):
        chart("t", ["a", "b"], {"x": [1]}, kind="bars")


def test_stacked_segments_fill_the_width_exactly() -> None:
    segments = stacked([("a", 1), ("b", 0), ("c", 2)], width=100)
    assert [(s.name, s.count) for s in segments] == [("a", 1), ("c", 2)]
    assert segments[0].x == 0
    assert segments[1].x == segments[0].width
    assert sum(s.width for s in segments) == pytest.approx(100)
    assert stacked([("a", 0)]) == ()
