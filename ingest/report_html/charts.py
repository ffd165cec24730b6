"""The report's charts: stacked columns and horizontal bars, drawn as static SVG (no script).

Each series has a pattern as well as a colour and a label in the legend, so that a
chart does not depend on colour and its series differ in a black-and-white print.
The patterns are defined once per page (:func:`defs`) and each chart refers to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = [
    "ACTIVITY",
    "BOUTS",
    "KEPT",
    "Series",
    "bars",
    "columns",
    "defs",
    "figure",
    "legend",
    "nice_max",
    "nice_step",
]

_WIDTH = 720
_HEIGHT = 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 46, 8, 14, 34


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a chart: its key (pattern id), label, colour and pattern."""

    key: str
    label: str
    colour: str
    pattern: str  # "solid", "diagonal", "dots", "cross", "horizontal", "vertical", "back"


# Okabe & Ito's colour-blind-safe palette, each with its own pattern.
#: A day's postures, keyed as ``DaySummary.seconds_of`` names them (and ``in_bed``).
ACTIVITY = (
    Series("sitting", "Sitting", "#D55E00", "solid"),
    Series("standing", "Standing", "#56B4E9", "diagonal"),
    Series("walking", "Walking", "#009E73", "dots"),
    Series("lying", "Lying", "#CC79A7", "cross"),
    Series("other", "Other", "#999999", "vertical"),
    Series("in_bed", "In bed", "#0072B2", "horizontal"),
    Series("nonwear", "Not worn", "#DDDDDD", "back"),
)
#: Sitting bouts by length.
BOUTS = (
    Series("short", "Under 30 min", "#F0E442", "solid"),
    Series("medium", "30 to 60 min", "#E69F00", "diagonal"),
    Series("long", "60 min or more", "#D55E00", "cross"),
)
#: The share of the exercise plan kept.
KEPT = Series("kept", "Plan kept", "#009E73", "dots")


def _pattern(series: Series) -> str:
    """An SVG pattern: the series' colour with its own marks, so black-and-white prints differ."""
    marks = {
        "solid": "",
        "diagonal": '<path d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2" stroke="#fff" stroke-width="1.2"/>',
        "back": '<path d="M-1,5 l2,2 M0,0 l6,6 M5,-1 l2,2" stroke="#555" stroke-width="0.8"/>',
        "dots": '<circle cx="3" cy="3" r="1.2" fill="#fff"/>',
        "cross": '<path d="M0,0 l6,6 M6,0 l-6,6" stroke="#fff" stroke-width="1"/>',
        "horizontal": '<path d="M0,3 h6" stroke="#fff" stroke-width="1.2"/>',
        "vertical": '<path d="M3,0 v6" stroke="#fff" stroke-width="1.2"/>',
    }[series.pattern]
    return (
        f'<pattern id="p-{series.key}" width="6" height="6" patternUnits="userSpaceOnUse">'
        f'<rect width="6" height="6" fill="{series.colour}"/>{marks}</pattern>'
    )


def defs() -> str:
    """The patterns every chart refers to, once per page (a zero-size SVG, not ``display: none``)."""
    patterns = "".join(_pattern(s) for s in (*ACTIVITY, *BOUTS, KEPT))
    return f'<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>{patterns}</defs></svg>'


def legend(series: Sequence[Series]) -> str:
    """A legend: each series' pattern and label."""
    items = "".join(
        f'<li><svg viewBox="0 0 14 14" aria-hidden="true"><rect width="14" height="14" fill="url(#p-{s.key})"/></svg>'
        f"{escape(s.label)}</li>"
        for s in series
    )
    return f'<ul class="legend">{items}</ul>'


def nice_max(value: float, step: float) -> float:
    """``value`` rounded up to a whole number of ``step`` (one step at least): the top of an axis."""
    return max(step, step * -(-value // step))


def nice_step(span: float) -> float:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that splits ``span`` into at most 6 steps."""
    step = 1.0
    while span / step > 6:
        for factor in (2.0, 2.5, 2.0):
            step *= factor
            if span / step <= 6:
                break
    return step


def columns(
    name: str,
    title: str,
    labels: Sequence[str],
    stacks: Sequence[Sequence[float]],
    series: Sequence[Series],
    *,
    y_max: float,
    y_step: float,
    y_unit: str,
    tick_every: int = 1,
    tops: Sequence[str] | None = None,
    reference: float | None = None,
) -> str:
    """Stacked columns, one per label; ``stacks`` holds one value per series for each column.

    ``tops`` are texts written above the columns, ``reference`` a dashed line at that value.
    """
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    n = max(len(labels), 1)
    slot = plot_w / n

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - v / y_max)

    parts = [
        f'<svg viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-labelledby="{name}-title" '
        f'><title id="{name}-title">{escape(title)}</title>'
    ]
    v = 0.0
    while v <= y_max + 1e-9:
        parts.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#ccc" stroke-width="0.6"/>'
            f'<text x="{_LEFT - 4}" y="{y(v) + 3:.1f}" font-size="10" text-anchor="end">{v:g}</text>'
        )
        v += y_step
    parts.append(
        f'<text x="10" y="{_TOP + plot_h / 2:.1f}" font-size="10" text-anchor="middle" '
        f'transform="rotate(-90 10 {_TOP + plot_h / 2:.1f})">{escape(y_unit)}</text>'
    )
    if reference is not None:
        parts.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y(reference):.1f}" y2="{y(reference):.1f}" '
            'stroke="#333" stroke-width="1" stroke-dasharray="4 3"/>'
        )
    bar_w = max(slot * 0.78, 1.0)
    for i, (label, stack) in enumerate(zip(labels, stacks, strict=True)):
        x = _LEFT + i * slot + (slot - bar_w) / 2
        base = 0.0
        for s, value in zip(series, stack, strict=True):
            if value <= 0:
                continue
            top = min(base + value, y_max)
            parts.append(
                f'<rect x="{x:.1f}" y="{y(top):.1f}" width="{bar_w:.1f}" height="{y(base) - y(top):.1f}" '
                f'fill="url(#p-{s.key})" stroke="#333" stroke-width="0.4"><title>{escape(label)}: '
                f"{escape(s.label)} {value:.1f} {escape(y_unit)}</title></rect>"
            )
            base = top
        if tops is not None and tops[i]:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y(base) - 3:.1f}" font-size="9" text-anchor="middle">'
                f"{escape(tops[i])}</text>"
            )
        if i % tick_every == 0:
            parts.append(
                f'<text x="{_LEFT + i * slot + slot / 2:.1f}" y="{_HEIGHT - _BOTTOM + 13}" font-size="9" '
                f'text-anchor="{"middle" if tick_every == 1 else "start"}">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#333" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def bars(name: str, title: str, rows: Sequence[tuple[str, int]], total: int) -> str:
    """Horizontal bars labelled with their counts and shares."""
    row_h, label_w = 24, 200
    height = row_h * len(rows) + 8
    plot_w = _WIDTH - label_w - 110
    top = max((v for _, v in rows), default=0) or 1
    parts = [
        f'<svg viewBox="0 0 {_WIDTH} {height}" role="img" aria-labelledby="{name}-title" '
        f'><title id="{name}-title">{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(rows):
        yy = 4 + i * row_h
        w = plot_w * value / top
        share = f"{value / total:.0%}" if total else "&ndash;"
        parts.append(
            f'<text x="{label_w - 6}" y="{yy + 15}" font-size="11" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{yy + 3}" width="{w:.1f}" height="{row_h - 8}" fill="#7A9CC6" '
            f'stroke="#333" stroke-width="0.5"/>'
            f'<text x="{label_w + w + 5:.1f}" y="{yy + 15}" font-size="11">{value} ({share})</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def figure(name: str, svg: str, caption: str, legend: str = "") -> str:
    """A chart in a ``<figure>`` (id ``chart-NAME``), with its legend and caption."""
    return f'<figure id="chart-{name}">{svg}{legend}<figcaption>{escape(caption)}</figcaption></figure>'
