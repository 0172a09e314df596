"""Small line charts as inline SVG, drawn on the server.

The report used to inline Plotly (3.5 MB of JavaScript) for 22 small trend charts; these
functions draw the same trends as a few hundred bytes of SVG each, so the page stays one
small offline file under a CSP that allows no script at all, and the charts show even in
a mail client or with JavaScript off. Every value is also in the tables next to them: a
chart only shows the shape.

Pure functions of their inputs (no I/O), unit-tested in ``tests/unit/test_report_svg.py``.
A ``None`` value is a gap: the line is broken there, never drawn through zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import markupsafe

# Tableau 10: distinct on white and for the common colour-vision deficiencies.
PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)


def color(index: int) -> str:
    """The colour of the ``index``-th series (the table row shows the same swatch)."""
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str


def _fmt_tick(kind: str, v: float) -> str:
    """Axis labels: short, ``$12k`` / ``45%`` / ``1.2k``."""
    if kind == "ratio":
        return f"{v * 100:.0f}%"
    prefix = "$" if kind == "money" else ""
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a >= 1_000_000:
        body = f"{a / 1_000_000:.1f}M"
    elif a >= 10_000:
        body = f"{a / 1000:.0f}k"
    elif a >= 1000:
        body = f"{a / 1000:.1f}k"
    else:
        body = f"{a:.0f}" if a == int(a) or a >= 10 else f"{a:.1f}"
    return f"{sign}{prefix}{body}"


def _bounds(series: Sequence[Series]) -> tuple[float, float]:
    values = [v for s in series for v in s.values if v is not None]
    if not values:
        return 0.0, 1.0
    lo, hi = min(0.0, min(values)), max(0.0, max(values))
    if hi == lo:
        hi = lo + 1.0
    return lo, hi


def _segments(points: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive points; a ``None`` breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for p in points:
        if p is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(p)
    return [r for r in runs if r]


def _path(run: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in run)


def line_chart(
    series: Sequence[Series],
    labels: Sequence[str],
    *,
    kind: str,
    title: str,
    partial_last: bool = False,
    width: int = 420,
    height: int = 170,
) -> markupsafe.Markup:
    """One line per series over ``labels`` (the weeks), y from 0 (or the lowest value).

    ``partial_last`` shades the last week and draws its points hollow: it is the current
    week, counted to date, so a dip there is not a drop.
    """
    left, right, top, bottom = 46, 8, 8, 22
    pw, ph = width - left - right, height - top - bottom
    n = max(len(labels), 1)
    lo, hi = _bounds(series)

    def x(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph * (hi - v) / (hi - lo)

    esc = markupsafe.escape
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
    ]
    if partial_last and n > 1:
        x0 = (x(n - 2) + x(n - 1)) / 2
        out.append(
            f'<rect class="partial" x="{x0:.1f}" y="{top}" width="{left + pw - x0 + right / 2:.1f}" '
            f'height="{ph}"><title>week to date (partial)</title></rect>'
        )
    for v in (lo, (lo + hi) / 2, hi):
        yy = y(v)
        out.append(
            f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text class="tick" x="{left - 4}" y="{yy + 3:.1f}" text-anchor="end">'
            f"{esc(_fmt_tick(kind, v))}</text>"
        )
    if lo < 0 < hi:
        out.append(
            f'<line class="zero" x1="{left}" x2="{left + pw}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>'
        )
    picks = sorted({0, (n - 1) // 2, n - 1}) if labels else []
    for i in picks:
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        out.append(
            f'<text class="tick" x="{x(i):.1f}" y="{height - 6}" text-anchor="{anchor}">'
            f"{esc(labels[i])}</text>"
        )
    for s in series:
        points = [None if v is None else (x(i), y(v)) for i, v in enumerate(s.values)]
        for run in _segments(points):
            if len(run) > 1:
                out.append(
                    f'<polyline fill="none" stroke="{s.color}" stroke-width="1.6" '
                    f'points="{_path(run)}"/>'
                )
        # Points only where a line cannot show the value: a week alone between gaps, and
        # the partial current week (hollow). Per-point circles on every series would cost
        # more bytes than the lines themselves on a tenant with many BUs.
        for i, p in enumerate(points):
            if p is None:
                continue
            alone = (i == 0 or points[i - 1] is None) and (i == n - 1 or points[i + 1] is None)
            partial = partial_last and i == n - 1
            if alone or partial:
                fill = "#fff" if partial else s.color
                out.append(
                    f'<circle cx="{p[0]:.1f}" cy="{p[1]:.1f}" r="2.2" fill="{fill}" '
                    f'stroke="{s.color}"/>'
                )
    out.append("</svg>")
    return markupsafe.Markup("".join(out))


def sparkline(
    values: Sequence[float | None],
    *,
    title: str,
    partial_last: bool = False,
    width: int = 132,
    height: int = 30,
) -> markupsafe.Markup:
    """A tiny trend without axes for the headline table; the last point is marked (hollow
    when it is the partial current week)."""
    pad = 3
    n = max(len(values), 1)
    present = [v for v in values if v is not None]
    lo, hi = (min(0.0, *present), max(0.0, *present)) if present else (0.0, 1.0)
    if hi == lo:
        hi = lo + 1.0

    def pt(i: int, v: float) -> tuple[float, float]:
        xx = pad + ((width - 2 * pad) * i / (n - 1) if n > 1 else (width - 2 * pad) / 2)
        return xx, pad + (height - 2 * pad) * (hi - v) / (hi - lo)

    points = [None if v is None else pt(i, v) for i, v in enumerate(values)]
    esc = markupsafe.escape
    out = [
        f'<svg class="spark" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(title)}">'
        f"<title>{esc(title)}</title>"
    ]
    out.extend(
        f'<polyline fill="none" stroke="#4e79a7" stroke-width="1.5" points="{_path(run)}"/>'
        for run in _segments(points)
        if len(run) > 1
    )
    last = next(((i, p) for i, p in reversed(list(enumerate(points))) if p is not None), None)
    if last is not None:
        i, (cx, cy) = last
        fill = "#fff" if partial_last and i == n - 1 else "#4e79a7"
        out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.4" fill="{fill}" stroke="#4e79a7"/>')
    out.append("</svg>")
    return markupsafe.Markup("".join(out))
