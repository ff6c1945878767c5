"""Charts as data for inline SVG (templates/manage/_chart_*.html): the
geometry is worked out here, in a 320-unit-wide viewBox that the page
stretches to its width, so a chart reads the same at 375 px and on a desk.

Every chart carries its title, a one-sentence description and the table of
its figures (shown behind a <details> for screen readers and the curious).
Texts come in already translated; nothing here queries the database."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from django.utils import formats

WIDTH = 320
LEFT = 4            # the plot's left edge (axis labels sit inside the plot, above the gridlines)
TOP = 18            # room for the top gridline's label
PLOT_HEIGHT = 120
ROW = 38            # one horizontal bar: its label line and the bar
BAR = 12
FONT = 13           # in viewBox units: about 14 px at 375 px wide


@dataclass
class Chart:
    key: str
    title: str
    desc: str
    height: int
    headers: list[str]
    rows: list[list[str]]
    kind: str = "bars"
    bars: list[dict] = field(default_factory=list)
    columns: list[dict] = field(default_factory=list)
    grid: list[dict] = field(default_factory=list)
    ticks: list[dict] = field(default_factory=list)
    legend: list[dict] = field(default_factory=list)
    path: str = ""
    area: str = ""
    dots: list[dict] = field(default_factory=list)
    empty: str = ""
    width: int = WIDTH
    font: int = FONT
    bar: int = BAR


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^n at least ``value`` (1 for nothing)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if value <= step * power + 1e-9)


def nice_bytes(value: float) -> float:
    """nice_ceiling in the unit the value is read in (KB, MB, GB… of 1024)."""
    unit = 1
    while value >= unit * 1024 and unit < 1024 ** 5:
        unit *= 1024
    return nice_ceiling(value / unit) * unit


def count_text(value: float) -> str:
    """A gridline's count; none for a fraction (half of 1 is no count)."""
    return f"{value:g}" if float(value).is_integer() else ""


def day_label(day: date) -> str:
    return formats.date_format(day, "MONTH_DAY_FORMAT")


def hbars(*, key: str, title: str, desc: str, items: list[dict], headers: list[str], empty: str) -> Chart:
    """Horizontal bars, one per item: ``label``, ``text`` (the figure as
    read), ``value`` and either ``total`` (the bar's track is the item's own
    total, e.g. a quota) or the largest value as the common scale."""
    scale = max([item["value"] for item in items if item.get("total") is None] or [0]) or 1
    bars = []
    for index, item in enumerate(items):
        total = item.get("total")
        share = min(item["value"] / total, 1) if total else (0 if total is not None else item["value"] / scale)
        y = index * ROW
        bars.append({"label": item["label"], "text": item["text"], "y": y + FONT, "bar_y": y + FONT + 5,
                     "width": round((WIDTH - LEFT) * share, 1), "track": total is not None,
                     "css": item.get("css", "series-a")})
    rows = [item["cells"] for item in items]
    return Chart(key=key, title=title, desc=desc, height=max(len(items), 1) * ROW, headers=headers, rows=rows,
                 bars=bars, empty=empty if not items else "")


def _grid(top_value: float, fmt) -> list[dict]:
    return [{"y": round(TOP + PLOT_HEIGHT * (1 - part), 1), "text": fmt(top_value * part)} for part in (1, .5, 0)]


def _ticks(days: list[date], x_of) -> list[dict]:
    picks = [0, len(days) // 2, len(days) - 1] if len(days) > 2 else list(range(len(days)))
    anchors = {0: "start", len(days) - 1: "end"}
    return [{"x": round(x_of(i), 1), "text": day_label(days[i]), "anchor": anchors.get(i, "middle")}
            for i in dict.fromkeys(picks)]


def day_columns(*, key: str, title: str, desc: str, days: list[date], series: list[dict],
                headers: list[str]) -> Chart:
    """Columns per day, one or two series side by side; each series is
    ``{"name", "css", "values"}`` (a value per day)."""
    top = nice_ceiling(max((v for s in series for v in s["values"]), default=0))
    slot = (WIDTH - LEFT) / max(len(days), 1)
    width = slot * .8 / len(series)
    columns = []
    for index in range(len(days)):
        for n, one in enumerate(series):
            value = one["values"][index]
            height = PLOT_HEIGHT * value / top
            columns.append({"x": round(LEFT + index * slot + slot * .1 + n * width, 2), "width": round(width, 2),
                            "y": round(TOP + PLOT_HEIGHT - height, 2), "height": round(height, 2),
                            "css": one["css"], "title": f"{day_label(days[index])}: {one['name']} {value}"})
    rows = [[day_label(day), *[str(one["values"][i]) for one in series]] for i, day in enumerate(days)]
    return Chart(key=key, title=title, desc=desc, kind="columns", height=TOP + PLOT_HEIGHT + FONT + 6,
                 headers=headers, rows=rows, columns=columns, grid=_grid(top, count_text),
                 ticks=_ticks(days, lambda i: LEFT + i * slot + slot / 2),
                 legend=[{"name": one["name"], "css": one["css"]} for one in series])


def line(*, key: str, title: str, desc: str, points: list[tuple[date, int]], fmt, headers: list[str],
         empty: str, ceiling=nice_ceiling) -> Chart:
    """A line (with its area) through the daily ``points``; ``fmt`` writes a
    value (e.g. bytes) and ``ceiling`` rounds the top of the scale up."""
    top = ceiling(max((v for _, v in points), default=0))
    step = (WIDTH - LEFT * 2) / max(len(points) - 1, 1)

    def xy(i: int, value: int) -> tuple[float, float]:
        return round(LEFT + i * step, 1), round(TOP + PLOT_HEIGHT * (1 - value / top), 1)

    coords = [xy(i, v) for i, (_, v) in enumerate(points)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x},{y}" for i, (x, y) in enumerate(coords))
    base = TOP + PLOT_HEIGHT
    area = f"{path} L{coords[-1][0]},{base} L{coords[0][0]},{base} Z" if len(coords) > 1 else ""
    days = [day for day, _ in points]
    return Chart(key=key, title=title, desc=desc, kind="line", height=TOP + PLOT_HEIGHT + FONT + 6,
                 headers=headers,
                 rows=[[day_label(day), fmt(value)] for day, value in points], path=path, area=area,
                 dots=[{"x": x, "y": y} for x, y in coords] if len(coords) <= 2 else [],
                 grid=_grid(top, fmt), ticks=_ticks(days, lambda i: LEFT + i * step),
                 empty=empty if not points else "")
