"""`orch report`: a static comparison of runs (index.html + PNG + CSV) readable offline.

Data flows one way: training logs (orchestrator.logs, incremental) and evaluation records
(metrics.jsonl) are gathered per run into `RunData`, then drawn. matplotlib is imported here
only, with the Agg backend, so the rest of orch (and `orch --help`) never pays for it. Every
file is written atomically; runs without a log or an evaluation still appear with what exists.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.base.errors import OrchError
from orchestrator.base.fsutil import atomic_write
from orchestrator.evaluation.best import best_record, latest_ok_records, read_measure, shown_split
from orchestrator.evaluation.store import load_results
from orchestrator.logs import ParsedLog, latest_rows, parse_run
from orchestrator.metrics.measures import MEASURES, THRESHOLDS
from orchestrator.metrics.overlaps import OVERLAPS, PRIMARY
from orchestrator.runs import manifest_or_none

METRICS = tuple(OVERLAPS)
#: One line style per matching metric, in registry order (colours are the runs').
LINESTYLE = dict(zip(METRICS, ("-", "--", ":", "-.")))
METRIC_LABEL = {name: overlap.label for name, overlap in OVERLAPS.items()}
FIGURES = (
    ("loss.png", "Training loss"),
    ("map.png", "mAP during training"),
    ("thresholds.png", "AP vs IoU threshold at the best weights"),
    ("per_class.png", "Per-class AP at the best weights"),
    ("region.png", "Region Avg IoU during training"),
    ("lr.png", "Learning rate"),
)


@dataclass
class RunData:
    """What the report knows about one run; any part may be missing. Evaluations are those
    of one split (`split`), the one `orch best` and `orch status` show."""

    name: str
    color: Any
    manifest: Any = None
    log: ParsedLog | None = None
    records: list[dict] = field(default_factory=list)
    split: str | None = None

    @property
    def evaluated(self) -> list[dict]:
        """The newest successful evaluation of each weights file on `split`, by iteration."""
        if self.split is None:
            return []
        return sorted(latest_ok_records(self.records, self.split), key=lambda r: r["iteration"])

    def best(self, metric: str) -> dict | None:
        """The record with the highest mAP@[.50:.95] under `metric` (IoU or GIoU matching),
        chosen as `orch best` chooses it."""
        if self.split is None:
            return None
        try:
            return best_record(self.records, metric, "mean", self.split)
        except OrchError:  # no successful evaluation with this metric
            return None


# -- gathering ------------------------------------------------------------------------------
def gather(workspace: Any, runs: list[str] | None) -> list[RunData]:
    names = runs if runs is not None else workspace.run_names()
    known = set(workspace.run_names())
    for name in names:
        if name not in known and not workspace.logs_dir(name).is_dir():
            raise OrchError(f"unknown run '{name}'", "orch report")
    colors = run_colors(len(names))
    data = []
    for name, color in zip(names, colors):
        manifest, records = manifest_or_none(workspace, name), load_results(workspace, name)
        data.append(
            RunData(
                name,
                color,
                manifest,
                parse_run(workspace, name, manifest.job_ids() if manifest else ()),
                records,
                shown_split(workspace, manifest, records),
            )
        )
    return data


def run_colors(count: int) -> list[Any]:
    """One colour per run, the same in every figure: tab20's ten strong colours first, then
    its ten light ones (taken in tab20's own order, neighbours would be near-twins)."""
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    return [cmap(order[i % 20]) for i in range(count)]


# -- series helpers -------------------------------------------------------------------------
def training_rows(log: ParsedLog | None, since: int) -> dict[str, np.ndarray]:
    """The log's series without rows redone by a resumed job, from iteration `since` on."""
    if log is None or not log.iterations:
        return {}
    columns = {k: np.asarray(v, dtype=float) for k, v in log.series.items()}
    keep = latest_rows(log.series["iteration"]) & (columns["iteration"] >= since)
    return {k: v[keep] for k, v in columns.items()}


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over `window` points ignoring NaN (a diverged iteration leaves a hole
    in the raw curve, not in the smoothed one)."""
    if window <= 1 or values.size == 0:
        return values
    finite = np.isfinite(values)
    sums = np.cumsum(np.where(finite, values, 0.0))
    counts = np.cumsum(finite)
    sums[window:] = sums[window:] - sums[:-window]
    counts[window:] = counts[window:] - counts[:-window]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def default_window(data: list[RunData]) -> int:
    """About 1% of the longest run: smooth enough to read, short enough to keep the shape."""
    longest = max((d.log.iterations for d in data if d.log), default=0)
    return max(1, longest // 100)


def region_overlap(log: ParsedLog | None, stat: str, since: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean over layers of a region statistic per iteration (layers without objects skipped)."""
    if log is None or not log.region:
        return np.zeros(0), np.zeros(0)
    frames = []
    for columns in log.region.values():
        iterations = np.asarray(columns["iteration"], dtype=np.int64)
        keep = latest_rows(iterations) & (iterations >= since)
        frames.append((iterations[keep], np.asarray(columns[stat], dtype=float)[keep]))
    allits = np.unique(np.concatenate([f[0] for f in frames]))
    sums, counts = np.zeros(allits.size), np.zeros(allits.size)
    for iterations, values in frames:
        where = np.searchsorted(allits, iterations)
        finite = np.isfinite(values)
        np.add.at(sums, where[finite], values[finite])
        np.add.at(counts, where[finite], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return allits, np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


# -- figures --------------------------------------------------------------------------------
def new_figure(rows: int = 1, cols: int = 1, height: float = 4.8, width: float = 9.5):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False)
    return fig, axes.ravel()


def finish(fig, axes, path: Path, title: str, run_legend: list[RunData], metric_legend: bool = False) -> None:
    """Title, legends outside the data (runs on the right, line styles below them), write."""
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D

    fig.suptitle(title, fontsize=13)
    handles = [Line2D([], [], color=d.color, lw=2, label=d.name) for d in run_legend]
    if metric_legend:
        handles += [
            Line2D([], [], color="0.3", ls=LINESTYLE[m], lw=1.5, label=f"{METRIC_LABEL[m]} matching") for m in METRICS
        ]
    if handles:
        fig.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.0, 0.93),
            fontsize=9 if len(handles) > 8 else 10,
            frameon=False,
        )
    if not any(ax.has_data() for ax in axes):
        for ax in axes:
            ax.text(
                0.5,
                0.5,
                "nothing to show yet",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="0.4",
                fontsize=12,
            )
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write(path, buffer.getvalue())


def plot_loss(data: list[RunData], path: Path, window: int, since: int) -> None:
    fig, (ax,) = new_figure()
    for d in data:
        rows = training_rows(d.log, since)
        if not rows:
            continue
        ax.plot(rows["iteration"], rows["avg_loss"], color=d.color, alpha=0.25, lw=0.8)
        ax.plot(rows["iteration"], moving_average(rows["avg_loss"], window), color=d.color, lw=1.6)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("avg loss (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    finish(
        fig,
        [ax],
        path,
        f"Darknet avg loss (faint: as logged; bold: mean of {window} iterations)",
        [d for d in data if d.log and d.log.iterations],
    )


def plot_map(data: list[RunData], path: Path) -> None:
    fig, axes = new_figure(1, 3, height=4.2, width=13)
    for ax, measure in zip(axes, MEASURES.values()):
        label = measure.label
        for d in data:
            for metric in METRICS:
                points = [
                    (r["iteration"], read_measure(r["metrics"][metric], measure.name))
                    for r in d.evaluated
                    if metric in r["metrics"]
                ]
                if points:
                    x, y = zip(*points)
                    ax.plot(x, y, color=d.color, ls=LINESTYLE[metric], marker="o", ms=3, lw=1.4)
        ax.set_title(label)
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"{label} (0-1)")
        ax.grid(True, alpha=0.3)
    finish(fig, axes, path, "Evaluation of every checkpoint", [d for d in data if d.evaluated], metric_legend=True)


def plot_thresholds(data: list[RunData], path: Path) -> None:
    fig, (ax,) = new_figure()
    for d in data:
        best = d.best(PRIMARY)
        if best is None:
            continue
        thresholds = best.get("thresholds") or THRESHOLDS
        for metric in METRICS:
            if metric in best["metrics"]:
                ax.plot(
                    thresholds, best["metrics"][metric]["ap"], color=d.color, ls=LINESTYLE[metric], marker="o", ms=3
                )
    ax.set_xlabel("matching threshold (IoU or GIoU)")
    ax.set_ylabel("AP (0-1)")
    ax.set_xticks(THRESHOLDS)
    ax.grid(True, alpha=0.3)
    finish(
        fig,
        [ax],
        path,
        f"AP vs threshold at each run's best weights (by {METRIC_LABEL[PRIMARY]} mAP@[.50:.95])",
        [d for d in data if d.best(PRIMARY)],
        metric_legend=True,
    )


def plot_per_class(data: list[RunData], path: Path) -> None:
    """A class x run grid of AP (colour and number): stays readable for 12 runs x 80 classes,
    where grouped bars would not. Run names are written in their run's colour."""
    bests = [(d, d.best(PRIMARY)) for d in data]
    bests = [(d, b) for d, b in bests if b and b["metrics"][PRIMARY].get("per_class")]
    classes = sorted({c for _, b in bests for c in b["metrics"][PRIMARY]["per_class"]})
    grid = np.array(
        [[class_map(b["metrics"][PRIMARY]["per_class"].get(c)) for _, b in bests] for c in classes]
    ).reshape(len(classes), len(bests))
    fig, (ax,) = new_figure(height=max(3.5, 1.8 + 0.28 * len(classes)), width=max(6.0, 3.0 + 0.75 * len(bests)))
    if bests:
        image = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        fig.colorbar(image, ax=ax, label=f"AP@[.50:.95], {METRIC_LABEL[PRIMARY]} matching (0-1)", shrink=0.8)
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xticks(range(len(bests)), [d.name for d, _ in bests], rotation=40, ha="right")
        for label, (d, _) in zip(ax.get_xticklabels(), bests):
            label.set_color(d.color)
        if grid.size <= 400:
            for (row, col), value in np.ndenumerate(grid):
                if np.isfinite(value):
                    ax.text(
                        col,
                        row,
                        f"{value:.2f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if value < 0.5 else "black",
                    )
    finish(fig, [ax], path, "Per-class AP at each run's best weights", [])


def class_map(values: list[float] | None) -> float:
    """A class's AP@[.50:.95]; NaN (an empty cell) when absent or undefined (COCO writes -1
    for a class without ground truth)."""
    return float(np.mean(values)) if values and values[0] >= 0 else np.nan


def plot_region(data: list[RunData], path: Path, window: int, since: int) -> None:
    fig, (ax,) = new_figure()
    shown = []
    for d in data:
        for metric in METRICS:
            x, y = region_overlap(d.log, metric, since)
            if np.isfinite(y).any():
                ax.plot(x, moving_average(y, window), color=d.color, ls=LINESTYLE[metric], lw=1.4)
                if d not in shown:
                    shown.append(d)
    ax.set_xlabel("iteration")
    ax.set_ylabel("Region Avg IoU / GIoU, mean over layers (0-1)")
    ax.grid(True, alpha=0.3)
    finish(
        fig, [ax], path, f"Region statistics while training (mean of {window} iterations)", shown, metric_legend=True
    )


def plot_lr(data: list[RunData], path: Path, since: int) -> None:
    fig, (ax,) = new_figure(height=4.0)
    for d in data:
        rows = training_rows(d.log, since)
        if rows:
            ax.plot(rows["iteration"], rows["rate"], color=d.color, lw=1.4)
    ax.set_xlabel("iteration")
    ax.set_ylabel("learning rate (as logged by darknet)")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.grid(True, alpha=0.3)
    finish(fig, [ax], path, "Learning rate", [d for d in data if d.log and d.log.iterations])


# -- tables and files -----------------------------------------------------------------------
def metrics_csv(data: list[RunData]) -> str:
    """Every evaluation in long format: one row per record, metric and threshold."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["run", "split", "iteration", "weights", "style", "ap_method", "status", "metric", "threshold", "ap"]
    )
    for d in data:
        for r in sorted(d.records, key=lambda r: (r.get("iteration", 0), r.get("split", ""))):
            base = [
                d.name,
                r.get("split"),
                r.get("iteration"),
                r.get("weights"),
                r.get("style"),
                r.get("ap_method"),
                r.get("status"),
            ]
            if r.get("status") != "ok" or not r.get("metrics"):
                writer.writerow(base + ["", "", ""])
                continue
            for metric, block in r["metrics"].items():
                for threshold, ap in zip(r.get("thresholds", []), block["ap"]):
                    writer.writerow(base + [metric, f"{threshold:.2f}", ap])
                writer.writerow(base + [metric, "0.50:0.95", block["mean"]])
    return out.getvalue()


def threshold_table(d: RunData) -> str:
    """The seed's table at the best weights: `Threshold: 0.50 | mAP: 0.759 | …`."""
    best = d.best(PRIMARY)
    if best is None:
        return "no evaluation yet"
    lines = [
        f"best weights ({METRIC_LABEL[PRIMARY]} mAP@[.50:.95]): {best['weights']} (iteration {best['iteration']}, split {best['split']})"
    ]
    for i, threshold in enumerate(best.get("thresholds", [])):
        cells = [f"mAP ({METRIC_LABEL[m]}): {best['metrics'][m]['ap'][i]:.3f}" for m in METRICS if m in best["metrics"]]
        lines.append(f"Threshold: {threshold:.2f} | " + " | ".join(cells))
    return "\n".join(lines)


def run_row(d: RunData) -> list[str]:
    m = d.manifest
    params = m.params if m else {}
    scaling = m.scaling if m else None
    last = d.log.row(-1) if d.log and d.log.iterations else None
    cells = [
        d.name,
        m.template if m else "",
        str(params.get("iou_loss") or ""),
        fmt(params.get("iou_normalizer")),
        fmt(params.get("cls_normalizer")),
        str(m.gpus) if m else "",
        fmt(scaling.cfg_learning_rate if scaling else None),
        fmt(scaling.cfg_burn_in if scaling else None),
        run_state(d),
        str(last["iteration"]) if last else "",
        fmt(last["avg_loss"]) if last else "",
    ]
    for metric in METRICS:
        best = d.best(metric)
        if best is None:
            cells.append("")
            continue
        block = best["metrics"][metric]
        values = " / ".join(f"{read_measure(block, name):.3f}" for name in MEASURES)
        cells.append(f"{best['iteration']}: {values}")
    return cells


def run_state(d: RunData) -> str:
    """What the files say: no log yet, training, finished (max_batches reached), failed."""
    if d.log is None or not d.log.iterations:
        return "failed" if d.log and d.log.errors else "no log yet"
    max_batches = d.manifest.max_batches if d.manifest else 0
    if max_batches and d.log.series["iteration"][-1] >= max_batches:
        return "finished"
    crashed = any(e["kind"] != "truncated" for e in d.log.errors)
    return "training (errors in log)" if crashed else "training"


def fmt(value: Any) -> str:
    if value is None or value == "":
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


RUN_HEADERS = [
    "run",
    "template",
    "iou_loss",
    "iou_norm",
    "cls_norm",
    "GPUs",
    "cfg lr",
    "cfg burn_in",
    "state",
    "last iteration",
    "avg loss",
    *(f"best {label}: iter: mAP / AP50 / AP75" for label in METRIC_LABEL.values()),  # MEASURES' values
]


def index_html(data: list[RunData], window: int, since: int) -> str:
    e = html.escape
    rows = "\n".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in run_row(d)) + "</tr>" for d in data)
    figures = "\n".join(
        f'<figure><img src="{name}" alt="{e(caption)}"><figcaption>{e(caption)}</figcaption></figure>'
        for name, caption in FIGURES
    )
    tables = "\n".join(
        f"<h3>{e(d.name)}</h3><pre>{e(threshold_table(d))}</pre>"
        + (f'<p><a href="{e(series_name(d.name))}">training series (CSV)</a></p>' if d.log and d.log.iterations else "")
        for d in data
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>orch report</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }}
th {{ background: #f0f0f0; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; }}
pre {{ background: #f8f8f8; padding: 0.5em; }}
</style></head><body>
<h1>orch report</h1>
<p>{len(data)} run(s). Loss curves smoothed over {window} iteration(s){
        f", from iteration {since}" if since else ""
    }. mAP values are fractions (0-1);
IoU / GIoU name the matching metric of the evaluation. All evaluations:
<a href="metrics.csv">metrics.csv</a>.</p>
<table><tr>{"".join(f"<th>{e(h)}</th>" for h in RUN_HEADERS)}</tr>
{rows}
</table>
{figures}
<h2>AP per threshold at the best weights</h2>
{tables}
</body></html>
"""


def series_name(run: str) -> str:
    return f"{run}.series.csv"


def write_report(
    workspace: Any, runs: list[str] | None = None, out: Path | None = None, smooth: int | None = None, since: int = 0
) -> Path:
    """Write the report for `runs` (default: every run) into `out` (default: reports/)."""
    if smooth is not None and smooth < 1:
        raise OrchError("--smooth must be at least 1", "orch report")
    out = Path(out) if out is not None else workspace.reports_dir()
    data = gather(workspace, runs)
    window = smooth or default_window(data)
    plot_loss(data, out / "loss.png", window, since)
    plot_map(data, out / "map.png")
    plot_thresholds(data, out / "thresholds.png")
    plot_per_class(data, out / "per_class.png")
    plot_region(data, out / "region.png", window, since)
    plot_lr(data, out / "lr.png", since)
    for d in data:
        if d.log and d.log.iterations:
            atomic_write(out / series_name(d.name), d.log.series_csv())
    atomic_write(out / "metrics.csv", metrics_csv(data))
    atomic_write(out / "index.html", index_html(data, window, since))
    return out
