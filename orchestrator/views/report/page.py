"""Writing the report folder: index.html from the template, plotly.js once, the CSV tables.

The folder is self-contained and opens from shared storage without any network: plotly.js is
copied next to the page (its file name carries plotly's version, so it is written once and a
page being read never loses its script), the page's data is inside index.html, and the CSS and
script are inlined from the package. Every file is replaced atomically and index.html last,
so a reader (or the page reloading itself) sees the previous complete report or the new one.
"""

from __future__ import annotations

import json
import re
import time
from importlib import resources
from pathlib import Path
from typing import Any

from orchestrator.base.fsutil import atomic_write
from orchestrator.views.report import tables
from orchestrator.views.report.data import RunReport, matching_metrics
from orchestrator.views.report.figures import CHART_IDS, STAT_LABELS, dash_of, figures, groups_of, metric_label

#: Seconds between reloads of a page while runs are active.
RELOAD_SECONDS = 120
#: The Region statistic shown first (darknet's Avg IOU).
FIRST_STAT = "iou"


def write_folder(runs: list[RunReport], out: Path, title: str, smooth: int = 0) -> Path:
    """Write the report of `runs` into `out`; returns the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    script = plotly_script(out)
    for run in (r for r in runs if r.checkpoints):
        folder = out / safe_name(run.name)
        atomic_write(folder / "results.csv", tables.results_csv(run))
        atomic_write(folder / "per_class.csv", tables.per_class_csv(run))
    atomic_write(out / "runs.csv", tables.runs_csv(runs))
    page = out / "index.html"
    atomic_write(page, render(runs, title, script, smooth))
    return page


def plotly_script(out: Path) -> str:
    """plotly.js inside the folder (written only when this plotly version is not there yet)."""
    import plotly
    from plotly.offline import get_plotlyjs

    name = f"plotly-{plotly.__version__}.min.js"
    if not (out / name).is_file():
        atomic_write(out / name, get_plotlyjs())
    return name


def safe_name(run: str) -> str:
    """A run's folder name in the report (log stems given with --log may hold anything)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", run) or "_"


def render(runs: list[RunReport], title: str, script: str, smooth: int) -> str:
    built = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    values = {
        "title": escape(title),
        "built": escape(built),
        "plotly": escape(script),
        "style": asset("report.css"),
        "script": asset("report.js"),
        "data": page_data(runs, built, smooth).replace("</", "<\\/"),
        "charts": "\n".join(f'<div class="chart" id="{chart}"></div>' for chart in CHART_IDS),
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], asset("template.html"))


def asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def escape(text: str) -> str:
    import html

    return html.escape(text)


def page_data(runs: list[RunReport], built: str, smooth: int) -> str:
    """The page's data as JSON; figures are spliced in as plotly serialised them."""
    cols = [c for c in tables.columns() if c.on_page]
    stats = [s for s in STAT_LABELS if any(r.training and s in r.training.region for r in runs)]
    shown = FIRST_STAT if FIRST_STAT in stats else (stats[0] if stats else FIRST_STAT)
    data: dict[str, Any] = {
        "built": built,
        "active": any(r.active for r in runs),
        "reload_seconds": RELOAD_SECONDS,
        "smooth": smooth,
        "columns": [{"key": c.key, "label": c.label, "best": c.best, "kind": c.kind, "param": c.param} for c in cols],
        "rows": tables.rows(runs, cols),
        "folders": {r.name: safe_name(r.name) for r in runs if r.checkpoints},
        "crashed": [
            {"run": r.name, "error": r.training.last_error} for r in runs if r.training and r.training.last_error
        ],
        "metrics": [{"id": m, "label": metric_label(m), "dash": dash_of(m)} for m in matching_metrics()],
        "stats": [{"id": s, "label": STAT_LABELS[s]} for s in stats],
        "region_stat": shown,
        "groups": [{"label": g.label, "members": [r.name for r in g.members]} for g in groups_of(runs)],
        "per_class": per_class_table(runs),
    }
    charts = figures(runs, shown)
    spliced = ",".join(f"{json.dumps(name)}:{chart.to_json()}" for name, chart in charts.items())
    return json.dumps(data, allow_nan=False)[:-1] + ', "figures": {' + spliced + "}}"


def per_class_table(runs: list[RunReport]) -> dict[str, Any]:
    """AP@[.5:.95] per class at each run's best weights under each matching metric (None:
    no ground truth, or not evaluated); the page draws the heatmap from it."""
    metrics = matching_metrics()
    classes: set[str] = set()
    values: dict[str, dict[str, list[float | None]]] = {m: {} for m in metrics}
    bests = {r.name: {m: r.best(m) for m in metrics} for r in runs}
    for per_metric in bests.values():
        for metric, best in per_metric.items():
            if best is not None:
                classes.update(best.per_class.get(metric, {}))
    ordered = sorted(classes)
    for run, per_metric in bests.items():
        for metric, best in per_metric.items():
            if best is not None and best.per_class.get(metric):
                values[metric][run] = [tables.cell(best.per_class[metric].get(c)) for c in ordered]
    return {"classes": ordered, "values": values}
