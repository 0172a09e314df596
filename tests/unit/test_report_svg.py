"""The report's server-side SVG charts: gaps break the line, the partial week is marked,
values map to the right place and nothing but SVG markup comes out."""

from __future__ import annotations

import re

from stkpi.report.svg import Series, color, line_chart, sparkline


def _polylines(svg: str) -> list[list[tuple[float, float]]]:
    return [
        [tuple(map(float, p.split(","))) for p in pts.split()]
        for pts in re.findall(r'<polyline [^>]*points="([^"]+)"', svg)
    ]


def test_a_missing_week_breaks_the_line_instead_of_dropping_to_zero() -> None:
    svg = line_chart(
        [Series("A", [1, 2, None, 4, 5], "#000")], list("abcde"), kind="count", title="t"
    )
    runs = _polylines(svg)
    assert [len(r) for r in runs] == [2, 2]  # a b | d e: nothing drawn for c


def test_a_week_alone_between_gaps_is_a_point() -> None:
    svg = line_chart([Series("A", [None, 3, None], "#000")], list("abc"), kind="count", title="t")
    assert _polylines(svg) == []
    assert svg.count("<circle") == 1


def test_values_map_to_height_from_zero_to_the_maximum() -> None:
    # Plot area: y from top=8 to height-bottom = 170-22 = 148; 0 -> 148, max 10 -> 8, 5 -> 78.
    svg = line_chart([Series("A", [0, 5, 10], "#000")], list("abc"), kind="count", title="t")
    (run,) = _polylines(svg)
    assert [y for _, y in run] == [148.0, 78.0, 8.0]
    assert ">$" not in svg  # counts carry no dollar sign
    money = line_chart([Series("A", [0, 12_000], "#000")], list("ab"), kind="money", title="t")
    assert ">$12k<" in money and ">$6.0k<" in money


def test_partial_current_week_is_shaded_and_its_point_hollow() -> None:
    svg = line_chart(
        [Series("A", [1, 2, 3], "#123456")], list("abc"), kind="count", title="t", partial_last=True
    )
    assert 'class="partial"' in svg and "week to date (partial)" in svg
    assert re.search(r'<circle [^>]*fill="#fff" stroke="#123456"', svg)
    plain = line_chart([Series("A", [1, 2, 3], "#123456")], list("abc"), kind="count", title="t")
    assert 'class="partial"' not in plain and "<circle" not in plain


def test_titles_are_escaped_and_no_url_or_script_is_emitted() -> None:
    svg = line_chart([Series("A", [1, 2], "#000")], ["<a>", "b"], kind="ratio", title='"x" & <y>')
    assert "&lt;y&gt;" in svg and "&lt;a&gt;" in svg
    assert "<script" not in svg and "http" not in svg
    spark = sparkline([None, 1.0, 2.0], title="<t>", partial_last=True)
    assert "&lt;t&gt;" in spark and 'fill="#fff"' in spark


def test_series_colours_cycle_through_the_palette() -> None:
    assert color(0) != color(1) and color(10) == color(0)
