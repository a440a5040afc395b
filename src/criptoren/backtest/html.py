"""``--html``: one self-contained interactive page (inline data and script, no CDN)."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path

from criptoren.backtest.chart_data import ChartData

DISPLAY = Decimal("0.00000001")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px sans-serif; margin: 16px; color: #222; }}
#chart {{ width: 100%; height: 78vh; display: block; cursor: crosshair; }}
#readout {{ font: 12px monospace; min-height: 1.4em; }}
pre {{ background: #f6f6f6; padding: 8px; }}
</style></head><body>
<h1>{title}</h1>
<pre>{summary}</pre>
<div id="readout">wheel: zoom · drag: pan · double-click: reset</div>
<canvas id="chart"></canvas>
<script>window.BACKTEST = {data};</script>
<script>{script}</script>
</body></html>
"""


def _number(value: Decimal | None) -> str:
    if value is None:
        return "null"
    return format(value.quantize(DISPLAY).normalize(), "f")


def _array(values: list[Decimal | None]) -> str:
    return "[" + ",".join(_number(v) for v in values) + "]"


def _points(points: list[tuple[int, Decimal]]) -> str:
    return "[" + ",".join(f"[{ms},{_number(price)}]" for ms, price in points) + "]"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_html(data: ChartData, summary_lines: list[str], path: Path) -> None:
    """Write the page for ``data`` with the text summary above the chart."""
    fields = [
        f'"t":[{",".join(str(ms) for ms in data.times_ms)}]',
        f'"c":{_array(list(data.closes))}',
        f'"u":{_array(data.upper)}',
        f'"l":{_array(data.lower)}',
        f'"e":{_array(list(data.equity))}',
        f'"entries":{_points(data.entries)}',
        f'"exits":{_points(data.exits)}',
    ]
    if data.exit_lower is not None:
        fields.append(f'"m":{_array(data.exit_lower)}')
    script = resources.files("criptoren.backtest").joinpath("chart.js").read_text("utf-8")
    path.write_text(
        PAGE.format(
            title=_escape(data.title),
            summary=_escape("\n".join(summary_lines)),
            data="{" + ",".join(fields) + "}",
            script=script,
        ),
        encoding="utf-8",
    )
