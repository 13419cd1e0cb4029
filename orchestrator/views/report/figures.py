"""The report's charts as plotly figures, one per stable chart id, built from `RunReport`s.

Every trace carries `meta` saying which run (or group of repeated runs) and which series it
draws; the page's script reads it to select runs, recolour, smooth and switch statistics, so
the figures here only say WHAT is drawn. Training curves are drawn with one trace per run and
series, named by the run; line style tells the matching metric apart in the evaluation charts.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from orchestrator.metrics.measures import MEASURES
from orchestrator.metrics.overlaps import OVERLAPS, PRIMARY
from orchestrator.views.report.data import Curve, RunReport, matching_metrics

#: Chart ids in page order (the page and its tests rely on them).
CHART_IDS = (
    "chart-loss",
    "chart-lr",
    "chart-region",
    "chart-speed",
    "chart-darknet-map",
    "chart-eval-map",
    "chart-thresholds",
    "chart-per-class",
)
DASHES = ("solid", "dash", "dot", "dashdot")
MEASURE_LABELS = {name: measure.label for name, measure in MEASURES.items()}
#: Region statistics as darknet prints them.
STAT_LABELS = {
    "iou": "Avg IOU",
    "giou": "GIOU",
    "diou": "DIOU",
    "ciou": "CIOU",
    "class": "Class",
    "obj": "Obj",
    "noobj": "No Obj",
    "recall50": ".5R",
    "recall75": ".75R",
    "count": "count",
    "class_loss": "class_loss",
    "iou_loss": "iou_loss",
}
EMPTY = Curve.of([], [])
#: Evaluated checkpoints per line up to which each one gets a marker.
MARKED_POINTS = 30
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}


def metric_label(metric: str) -> str:
    return OVERLAPS[metric].label if metric in OVERLAPS else metric


def dash_of(metric: str) -> str:
    """Line style of a matching metric: its place in the registry's order."""
    metrics = matching_metrics()
    return DASHES[metrics.index(metric) % len(DASHES)] if metric in metrics else "solid"


def base_layout(title: str, xaxis: str = "iteration", yaxis: str = "", height: int = 420) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        "template": "plotly_white",
        "font": FONT,
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 50, "b": 50},
        "hovermode": "closest",
        "hoverlabel": {"namelength": -1},
        "showlegend": True,
        "legend": {"itemclick": "toggle", "itemdoubleclick": "toggleothers", "font": {"size": 11}},
        "xaxis": {"title": {"text": xaxis}},
        "yaxis": {"title": {"text": yaxis}},
        "uirevision": "keep",
    }


@dataclass
class Chart:
    """A plotly figure: the layout built and validated by plotly's API, the traces as plain
    plotly dicts (validating a thousand traces through graph_objects costs seconds at 50 runs;
    tests validate the small case)."""

    figure: go.Figure
    traces: list[dict[str, Any]] = field(default_factory=list)

    def add(self, trace: dict[str, Any], column: int = 1) -> None:
        if column > 1:
            trace = {**trace, "xaxis": f"x{column}", "yaxis": f"y{column}"}
        self.traces.append(trace)

    def to_json(self) -> str:
        return json.dumps({"data": self.traces, "layout": self.figure.layout.to_plotly_json()}, default=typed_array)


def typed_array(value: Any) -> Any:
    """numpy arrays as plotly.js's base64 typed arrays (a quarter of the size of JSON numbers)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iu" and value.itemsize == 8:  # plotly.js has no 64-bit integers
            value = value.astype(np.int32)
        value = np.ascontiguousarray(value)
        return {"dtype": value.dtype.str.lstrip("<|="), "bdata": base64.b64encode(value.tobytes()).decode("ascii")}
    raise TypeError(f"cannot serialise {type(value).__name__}")


def line(curve: Curve, run: str, meta: dict[str, Any], **style: Any) -> dict[str, Any]:
    if curve.step:  # evenly spaced: plotly's x0 and dx instead of an array of iterations
        return line_xy(None, curve.y, run, meta, x0=int(curve.x[0]), dx=curve.step, **style)
    return line_xy(curve.x, curve.y, run, meta, **style)


def line_xy(x: Any, y: Any, run: str, meta: dict[str, Any], **style: Any) -> dict[str, Any]:
    """A run's trace: named by the run (the legend and the page's selection go by it)."""
    trace = {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "y": y,
        "name": run,
        "legendgroup": run,
        "meta": {"run": run, **meta},
        "hovertemplate": "%{fullData.name}<br>iteration %{x}<br>%{y:.4g}<extra>" + meta.get("label", "") + "</extra>",
        **style,
    }
    if x is None:
        del trace["x"]
    return trace


def marks(runs: list[RunReport]) -> list[dict[str, Any]]:
    """Restarts (solid) and gaps in the log (dotted) as vertical lines named by their run."""
    shapes = []
    for run in runs:
        if run.training is None:
            continue
        for kind, iterations in (("restart", run.training.restarts), ("gap", run.training.gaps)):
            for iteration in iterations:
                shapes.append(
                    {
                        "type": "line",
                        "xref": "x",
                        "yref": "paper",
                        "x0": iteration,
                        "x1": iteration,
                        "y0": 0,
                        "y1": 1,
                        "name": run.name,
                        "line": {"width": 1, "dash": "solid" if kind == "restart" else "dot", "color": "#888"},
                        "label": {"text": kind, "textposition": "end", "font": {"size": 9, "color": "#888"}},
                    }
                )
    return shapes


def training_figure(
    runs: list[RunReport],
    title: str,
    yaxis: str,
    series: list[tuple[str, dict[str, Any]]],
    smooth: bool,
    groups: tuple[Group, ...] = (),
) -> Chart:
    """One trace per run and training series (e.g. loss faint, avg loss bold)."""
    chart = Chart(go.Figure(layout=base_layout(title, yaxis=yaxis)))
    for run in runs:
        t = run.training
        if t is None:
            continue
        drawn = [(name, style) for name, style in series if name in t.curves]
        for index, (name, style) in enumerate(drawn):  # the last series drawn is the one in the legend
            meta = {"series": name, "smooth": smooth, "label": name}
            chart.add(line(t.curves[name], run.name, meta, showlegend=index == len(drawn) - 1, **style))
    name = series[-1][0]
    for group in groups:
        curves = [r.training.curves.get(name, EMPTY) if r.training else EMPTY for r in group.members]
        for trace in band_traces(group, curves, {"series": name, "smooth": smooth}, "solid"):
            chart.add(trace)
    chart.figure.layout.shapes = marks(runs)
    return chart


def loss_figure(runs: list[RunReport], groups: list[Group]) -> Chart:
    chart = training_figure(
        runs,
        "Training loss (faint: loss of each iteration; bold: darknet's avg loss)",
        "loss",
        [("loss", {"opacity": 0.3, "line": {"width": 1}}), ("avg_loss", {"line": {"width": 2}})],
        smooth=True,
        groups=tuple(groups),
    )
    chart.figure.update_yaxes(type="log")
    return chart


def lr_figure(runs: list[RunReport]) -> Chart:
    chart = training_figure(runs, "Learning rate (as darknet logs it)", "learning rate", [("rate", {})], smooth=False)
    chart.figure.update_yaxes(exponentformat="e")
    return chart


def speed_figure(runs: list[RunReport]) -> Chart:
    return training_figure(runs, "Seconds per iteration", "seconds", [("seconds", {})], smooth=True)


def region_figure(runs: list[RunReport], shown: str) -> Chart:
    """Every Region statistic of every run; the page shows one statistic at a time."""
    chart = Chart(
        go.Figure(
            layout=base_layout(
                "Region statistics while training (training statistic, mean over the yolo layers)", yaxis="value"
            )
        )
    )
    chart.figure.update_layout(legend_title_text="training statistic")
    for run in runs:
        if run.training is None:
            continue
        for stat, curve in run.training.region.items():
            label = STAT_LABELS.get(stat, stat)
            chart.add(line(curve, run.name, {"stat": stat, "smooth": True, "label": label}, visible=stat == shown))
    chart.figure.layout.shapes = marks(runs)
    return chart


def darknet_map_figure(runs: list[RunReport]) -> Chart:
    chart = Chart(
        go.Figure(
            layout=base_layout(
                "darknet's own mAP@0.5 during training (-map blocks; computed by darknet, not by orch's evaluation)",
                yaxis="darknet mAP@0.5",
            )
        )
    )
    for run in runs:
        if run.training is not None and run.training.darknet_map.x.size:
            chart.add(line(run.training.darknet_map, run.name, {"label": "darknet mAP@0.5"}, mode="lines+markers"))
    return chart


def eval_map_figure(runs: list[RunReport], groups: list[Group]) -> Chart:
    """mAP@[.5:.95], AP50 and AP75 of every evaluated checkpoint, side by side; one line
    style per matching metric. Repeated runs also get a mean line and a min–max band."""
    measures = list(MEASURE_LABELS)
    chart = Chart(make_subplots(rows=1, cols=len(measures), subplot_titles=[MEASURE_LABELS[m] for m in measures]))
    figure = chart.figure
    figure.update_layout(
        base_layout(
            "orch's evaluation of every checkpoint ("
            + ", ".join(f"{dash_of(m)}: {metric_label(m)} matching" for m in matching_metrics())
            + ")",
            height=440,
        )
    )
    figure.update_layout(margin={"t": 80})
    for column, measure in enumerate(measures, start=1):
        figure.update_xaxes(title_text="iteration", row=1, col=column)
        figure.update_yaxes(rangemode="tozero", row=1, col=column)
        for run in runs:
            for metric in matching_metrics():
                points = [(c.iteration, c.values[metric][measure]) for c in run.checkpoints if metric in c.values]
                if not points:
                    continue
                x, y = zip(*points)
                label = f"{metric_label(metric)} matching, {MEASURE_LABELS[measure]}"
                chart.add(
                    line(
                        Curve.of(x, y),
                        run.name,
                        {"metric": metric, "measure": measure, "label": label},
                        mode=points_mode(len(points)),
                        marker={"size": 4},
                        line={"dash": dash_of(metric)},
                        showlegend=column == 1 and metric == matching_metrics()[0],
                    ),
                    column,
                )
        for group in groups:
            for metric in matching_metrics():
                curves = [group_points(r, metric, measure) for r in group.members]
                for trace in band_traces(group, curves, {"metric": metric, "measure": measure}, dash_of(metric)):
                    chart.add(trace, column)
    return chart


def points_mode(count: int) -> str:
    """Markers while checkpoints are few enough to tell apart; beyond that a line (thousands
    of SVG markers make a page of 50 runs take seconds to draw, and hover still finds them)."""
    return "lines+markers" if count <= MARKED_POINTS else "lines"


def group_points(run: RunReport, metric: str, measure: str) -> Curve:
    points = [(c.iteration, c.values[metric][measure]) for c in run.checkpoints if metric in c.values]
    if not points:
        return EMPTY
    iterations, values = zip(*points)
    return Curve.of(iterations, values)


def thresholds_figure(runs: list[RunReport]) -> Chart:
    """AP against the matching threshold at each run's best weights (by mAP under the primary
    matching metric), one line per matching metric."""
    first = PRIMARY
    chart = Chart(
        go.Figure(
            layout=base_layout(
                f"AP vs matching threshold at each run's best weights (best by {metric_label(first)} mAP@[.5:.95]; "
                + ", ".join(f"{dash_of(m)}: {metric_label(m)}" for m in matching_metrics())
                + ")",
                xaxis="threshold (IoU or GIoU)",
                yaxis="AP",
            )
        )
    )
    for run in runs:
        best = run.best(first)
        if best is None:
            continue
        for metric in matching_metrics():
            if metric in best.ap:
                chart.add(
                    line_xy(
                        np.asarray(run.thresholds, dtype=np.float32),
                        np.asarray(best.ap[metric], dtype=np.float32),
                        run.name,
                        {"metric": metric, "label": f"{metric_label(metric)} matching, iteration {best.iteration}"},
                        mode="lines+markers",
                        line={"dash": dash_of(metric)},
                        showlegend=metric == first,
                        hovertemplate="%{fullData.name}<br>threshold %{x:.2f}<br>AP %{y:.4f}<extra></extra>",
                    )
                )
    return chart


def per_class_figure(metrics: list[str]) -> Chart:
    """The layout of the class × run heatmaps (one per matching metric); the page fills the
    cells from the per-class table for the runs selected, in the class order chosen."""
    chart = Chart(
        make_subplots(
            rows=1,
            cols=len(metrics),
            shared_yaxes=True,
            horizontal_spacing=0.04,
            subplot_titles=[f"{metric_label(m)} matching" for m in metrics],
        )
    )
    figure = chart.figure
    figure.update_layout(
        base_layout("Per-class AP@[.5:.95] at each run's best weights (colour scale fitted to the data)", xaxis="")
    )
    for column, metric in enumerate(metrics, start=1):
        chart.add(
            {
                "type": "heatmap",
                "x": [],
                "y": [],
                "z": [],
                "name": f"{metric_label(metric)} matching",
                "meta": {"metric": metric},
                "coloraxis": "coloraxis",
                "hovertemplate": "%{y}<br>%{x}<br>AP %{z:.3f}<extra>" + metric_label(metric) + "</extra>",
                "xgap": 1,
                "ygap": 1,
            },
            column,
        )
        figure.update_xaxes(tickangle=-40, title_text="", row=1, col=column)
    figure.update_layout(coloraxis={"colorscale": "Viridis", "colorbar": {"title": {"text": "AP"}}})
    figure.update_yaxes(autorange="reversed", tickfont={"size": 10})
    return chart


# -- repeated runs ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """Runs with the same parameters: the page can draw them as their mean and min–max band."""

    label: str
    members: list[RunReport]


def groups_of(runs: list[RunReport]) -> list[Group]:
    by_key: dict[tuple, list[RunReport]] = {}
    for run in runs:
        if run.params is not None:
            by_key.setdefault(run.params.grouping_key(), []).append(run)
    return [
        Group(f"mean of {len(members)}: {', '.join(r.name for r in members)}", members)
        for members in by_key.values()
        if len(members) > 1
    ]


def band_traces(group: Group, curves: list[Curve], meta: dict[str, Any], dash: str) -> list[dict[str, Any]]:
    """The mean of the members' curves (on the union of their iterations, each curve
    interpolated inside its own range) and a filled min–max band; hidden until asked for."""
    curves = [c for c in curves if c.x.size]
    if len(curves) < 2:
        return []
    grid = np.unique(np.concatenate([c.x for c in curves]))
    stack = np.vstack(
        [np.where((grid >= c.x[0]) & (grid <= c.x[-1]), np.interp(grid, c.x, c.y), np.nan) for c in curves]
    )
    with warnings.catch_warnings():  # a column of NaN (no member there) stays NaN: no warning
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, low, high = np.nanmean(stack, 0), np.nanmin(stack, 0), np.nanmax(stack, 0)
    members = [r.name for r in group.members]
    common = {"group": group.label, "members": members, **meta}
    return [
        {
            "type": "scatter",
            "x": np.r_[grid, grid[::-1]],
            "y": np.r_[high, low[::-1]].astype(np.float32),
            "fill": "toself",
            "mode": "lines",
            "line": {"width": 0},
            "opacity": 0.25,
            "name": group.label,
            "legendgroup": group.label,
            "showlegend": False,
            "hoverinfo": "skip",
            "visible": False,
            "meta": {**common, "kind": "band"},
        },
        {
            "type": "scatter",
            "x": grid.astype(np.int32),
            "y": mean.astype(np.float32),
            "mode": "lines+markers",
            "marker": {"size": 4},
            "line": {"dash": dash, "width": 2},
            "name": group.label,
            "legendgroup": group.label,
            "showlegend": meta.get("measure", "mean") == "mean" and dash == "solid",
            "visible": False,
            "meta": {**common, "kind": "mean"},
        },
    ]


def figures(runs: list[RunReport], region_stat: str) -> dict[str, Chart]:
    """Every chart of the page by its id."""
    groups = groups_of(runs)
    builders: dict[str, Callable[[], Chart]] = {
        "chart-loss": lambda: loss_figure(runs, groups),
        "chart-lr": lambda: lr_figure(runs),
        "chart-region": lambda: region_figure(runs, region_stat),
        "chart-speed": lambda: speed_figure(runs),
        "chart-darknet-map": lambda: darknet_map_figure(runs),
        "chart-eval-map": lambda: eval_map_figure(runs, groups),
        "chart-thresholds": lambda: thresholds_figure(runs),
        "chart-per-class": lambda: per_class_figure(list(matching_metrics())),
    }
    return {chart: builders[chart]() for chart in CHART_IDS}
