"""Server-side SVG charts (pygal), served as images: no script runs in them, none loads from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pygal
from pygal.style import Style


STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#7b8794",
    colors=("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#475569"),
    font_family="system-ui, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    value_font_size=13,
    legend_font_size=13,
)

CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
"""An SVG chart is shown through <img>, where no script runs; its own <style> needs inline styles, nothing else."""



def horizontal_bars(title: str, values: Mapping[str, int | float], *, unit: str = "") -> bytes:
    """An SVG horizontal bar chart of `values` (label -> number), largest first; an empty chart says "no data"."""
    chart = pygal.HorizontalBar(
        style=STYLE,
        width=640,
        height=max(160, 44 * len(values) + 80),
        show_legend=False,
        title=title,
        print_values=True,
        js=[],  # pygal's tooltips load a script from a CDN: not here
        no_data_text="No data yet",
        value_formatter=lambda v: f"{v:g}{unit}",
        margin=12,
    )
    ordered = sorted(values.items(), key=lambda kv: kv[1])
    chart.x_labels = [label for label, _ in ordered]
    chart.add(title, [value for _, value in ordered])
    return _without_scripts(chart.render())


def grouped_bars(title: str, labels: list[str], series: Mapping[str, list[float | None]], *, unit: str = "") -> bytes:
    """An SVG horizontal bar chart with one bar per series for each label (e.g. transit p50 and p90 per group),
    labels in the given order from the top, a legend naming the series; an empty chart says "no data"."""
    chart = pygal.HorizontalBar(
        style=STYLE,
        width=640,
        height=max(180, 30 * len(series) * len(labels) + 110),
        title=title,
        print_values=True,
        legend_at_bottom=True,
        js=[],
        no_data_text="No data yet",
        value_formatter=lambda v: f"{v:g}{unit}",
        margin=12,
    )
    chart.x_labels = list(reversed(labels))
    for name, values in series.items():
        chart.add(name, list(reversed(values)))
    return _without_scripts(chart.render())


_SCRIPT = re.compile(rb"<script\b[^>]*>.*?</script>", re.DOTALL)


def _without_scripts(svg: bytes) -> bytes:
    """pygal always embeds its tooltip configuration as a <script>; the console's charts are static images."""
    return _SCRIPT.sub(b"", svg)
