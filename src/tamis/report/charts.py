"""Charts drawn as inline SVG when the report is written.

The report has to open from disk with no network, and drawing the SVG in Python costs
milliseconds, so there is no chart library at all. Two shapes cover every chart: horizontal
stacked bars (funnel, reasons, rules, languages, cluster sizes) and a histogram over the fixed
signal bins of `aggregate`, with thresholds drawn as lines. Every chart carries `data-total`,
the number of items it draws, so a test can tell an empty chart from a full one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from tamis.report.aggregate import LINEAR_BINS, bin_edges, bin_position

SERIES_COLOURS = ("#3b6ea8", "#e07b39", "#7a9a3a", "#9b59b6")
THRESHOLD_COLOUR = "#c0392b"
WIDTH = 760
MAX_BARS = 60
MIN_BARS = 10


def number(value: float) -> str:
    """A count or size as people read it: 1,234 or 0.153."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"


@dataclass(frozen=True)
class Row:
    """One horizontal bar: a label and one value per series (stacked)."""

    label: str
    values: Sequence[float]
    note: str = ""


def horizontal_bars(rows: Sequence[Row], series: Sequence[str],
                    fmt: Callable[[float], str] = number) -> str:
    """Stacked horizontal bars, one row each, with the total printed after the bar."""
    row_height, label_width, value_width = 22, 260, 200
    bar_width = WIDTH - label_width - value_width
    largest = max((sum(row.values) for row in rows), default=0) or 1
    height = row_height * len(rows) + (24 if len(series) > 1 else 6)
    parts = [_open("bars", height, sum(sum(row.values) for row in rows))]
    if len(series) > 1:
        parts.append(_legend(series, label_width, height - 8))
    for index, row in enumerate(rows):
        y = index * row_height + 3
        parts.append(f'<text x="{label_width - 8}" y="{y + 14}" text-anchor="end" font-size="11">'
                     f'{escape(_clip(row.label, 38))}<title>{escape(row.label)}</title></text>')
        x = float(label_width)
        for colour, name, value in zip(SERIES_COLOURS, series, row.values, strict=False):
            width = bar_width * value / largest
            if value:
                parts.append(f'<rect class="bar" x="{x:.1f}" y="{y}" width="{max(width, 1):.1f}" '
                             f'height="{row_height - 6}" fill="{colour}"><title>'
                             f'{escape(row.label)}: {escape(fmt(value))} {escape(name)}'
                             f'</title></rect>')
            x += width
        total = fmt(sum(row.values)) + (f" {row.note}" if row.note else "")
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 14}">{escape(total)}</text>')
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Line:
    """A threshold to draw on a histogram: its value and what sets it."""

    value: float
    label: str


def histogram(bins: dict[str, dict[str, int]], series: Sequence[str],
              lines: Sequence[Line] = ()) -> str:
    """Stacked columns over the fixed signal bins, regrouped to at most `MAX_BARS` columns.

    `bins` maps each series to {bin key: count}. Bins over [-1, 1] are 0.001 wide and beyond
    it 20 per decade, so a signal with values past 1 (counts) is drawn on a log axis, and then
    everything in [-1, 1] shares one column.
    """
    counts = {name: {int(key): value for key, value in bins.get(name, {}).items()}
              for name in series}
    keys = {key for by_key in counts.values() for key in by_key}
    if not keys:
        return _open("histogram", 60, 0) + "</svg>"
    axis = _Axis(keys)
    slots = [axis.slot(key) for key in keys]
    low, high = min(slots), max(slots)
    for line in lines:
        position = axis.position(line.value)
        if math.isfinite(position) and abs(position - (low + high) / 2) < 4 * (high - low + 10):
            low, high = min(low, math.floor(position)), max(high, math.floor(position))
    high = max(high, low + MIN_BARS - 1)  # one value alone is a bar, not a full-width block
    group = max(math.ceil((high - low + 1) / MAX_BARS), 1)
    columns = (high - low) // group + 1
    totals = [[0] * columns for _ in series]
    for index, name in enumerate(series):
        for key, value in counts[name].items():
            totals[index][(axis.slot(key) - low) // group] += value
    height, top, bottom, left = 230, 22, 40, 50
    plot_width, plot_height = WIDTH - left - 10, height - top - bottom
    column_width = plot_width / columns
    tallest = max(sum(column) for column in zip(*totals, strict=True)) or 1
    parts = [_open("histogram", height, sum(map(sum, totals))),
             _legend(series, left, 14),
             f'<line x1="{left}" y1="{top + plot_height}" x2="{left + plot_width}" '
             f'y2="{top + plot_height}" stroke="#888"/>',
             f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{number(tallest)}</text>']
    for column in range(columns):
        first = low + column * group
        edge_low, edge_high = axis.edges(first)[0], axis.edges(first + group - 1)[1]
        x = left + column * column_width
        y = top + plot_height
        for index, name in enumerate(series):
            value = totals[index][column]
            if not value:
                continue
            bar = plot_height * value / tallest
            y -= bar
            parts.append(f'<rect class="bar" x="{x + 0.5:.1f}" y="{y:.1f}" '
                         f'width="{max(column_width - 1, 1):.1f}" height="{max(bar, 0.5):.1f}" '
                         f'fill="{SERIES_COLOURS[index]}"><title>[{number(edge_low)}, '
                         f'{number(edge_high)}): {value:,} {escape(name)}</title></rect>')
        every = max(columns // 6, 1)
        if column % every == 0 or (column == columns - 1 and column % every > every // 2):
            parts.append(f'<text x="{x:.1f}" y="{top + plot_height + 16}" font-size="10">'
                         f'{number(edge_low)}</text>')
    for line in lines:
        position = axis.position(line.value)
        if not math.isfinite(position) or not low <= position < high + 1:
            continue
        x = left + (position - low) / group * column_width
        parts.append(f'<line class="threshold" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" '
                     f'y2="{top + plot_height}" stroke="{THRESHOLD_COLOUR}" stroke-width="2" '
                     f'stroke-dasharray="5,3"><title>{escape(line.label)}</title></line>'
                     f'<text x="{x:.1f}" y="{top + plot_height + 30}" '
                     f'text-anchor="{"end" if x > WIDTH * 0.6 else "start"}" '
                     f'fill="{THRESHOLD_COLOUR}" font-size="10">{escape(line.label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


class _Axis:
    """Maps fixed bins to consecutive slots, folding [-1, 1] into one slot on a log axis."""

    def __init__(self, keys: set[int]) -> None:
        self.fold = any(abs(key) > LINEAR_BINS for key in keys)
        inside = [key for key in keys if abs(key) <= LINEAR_BINS]
        # The folded slot starts where the data does (0 for counts), not at -1.
        self.fold_low = bin_edges(min(inside))[0] if inside else -1.0

    def slot(self, key: int) -> int:
        if not self.fold:
            return key
        if abs(key) <= LINEAR_BINS:
            return 0
        return key - LINEAR_BINS if key > 0 else key + LINEAR_BINS

    def position(self, value: float) -> float:
        """The slot coordinate of a value (fractional inside its slot)."""
        place = bin_position(value)
        if not self.fold or not math.isfinite(place):
            return place
        if place >= LINEAR_BINS + 1:
            return place - LINEAR_BINS
        if place < -LINEAR_BINS:
            return place + LINEAR_BINS
        return (place + LINEAR_BINS) / (2 * LINEAR_BINS + 1)

    def edges(self, slot: int) -> tuple[float, float]:
        if not self.fold:
            return bin_edges(slot)
        if slot > 0:
            return bin_edges(slot + LINEAR_BINS)
        if slot < 0:
            return bin_edges(slot - LINEAR_BINS)
        return self.fold_low, 1.0


def _open(kind: str, height: int, total: float) -> str:
    return (f'<svg class="chart" data-kind="{kind}" data-total="{int(total)}" '
            f'width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">')


def _legend(series: Sequence[str], x: int, y: int) -> str:
    parts = []
    for colour, name in zip(SERIES_COLOURS, series, strict=False):
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{y}">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return "".join(parts)


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[:size - 1] + "…"
