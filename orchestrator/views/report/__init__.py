"""`orch report`: an interactive, self-contained comparison of runs (index.html + plotly.js + CSV).

Data flows one way: `data` gathers typed records from the layers below (run manifests, the
parsed training logs, the evaluation store), `figures` turns them into plotly figures, `tables`
into the runs table and CSV files, and `page` fills the HTML template shipped with the package
and writes the folder. The page's own script (report.js) makes the table drive the charts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator.base.errors import OrchError


def write_report(workspace: Any, runs: Sequence[str] | None = None, out: Path | None = None, smooth: int = 0) -> Path:
    """The report of `runs` (default: every run) in `out` (default: the configured folder);
    returns the page's path."""
    from orchestrator.views.report.data import gather
    from orchestrator.views.report.page import write_folder

    check_smooth(smooth)
    folder = Path(out) if out is not None else workspace.reports_dir()
    return write_folder(gather(workspace, runs), folder, f"orch report: {workspace.root.name}", smooth)


def write_log_report(specs: Sequence[str], out: Path, smooth: int = 0) -> Path:
    """The training charts of log files (`FILE` or `NAME=FILE`; one name given to several
    files joins them, in the order given, as one run across restarts). No workspace needed."""
    from orchestrator.views.report.data import gather_logs
    from orchestrator.views.report.page import write_folder

    check_smooth(smooth)
    return write_folder(gather_logs(specs), Path(out), "orch report: training logs", smooth)


def refresh_after_pass(workspace: Any, recorded: int) -> Path | None:
    """Rebuild the workspace's report after an evaluation pass that recorded something, when
    orch.yaml asks for it (eval.report, on by default). A failure is reported, never raised:
    the evaluations are recorded already and the next pass tries again."""
    if not recorded or not workspace.config.eval.report:
        return None
    import logging

    try:
        return write_report(workspace)
    except (OrchError, OSError) as exc:
        logging.getLogger("orchestrator.evaluation").warning("report not rebuilt: %s", exc)
        return None


def refresh_if_stale(workspace: Any) -> Path | None:
    """Rebuild the report when an evaluation store changed since the page was built: cluster
    evaluation records from array tasks, and the next `orch eval --submit` pass (cron's) brings
    the page up to date instead of every task rebuilding it."""
    if not workspace.config.eval.report:
        return None
    from orchestrator.evaluation.store import store_path

    page = workspace.reports_dir() / "index.html"
    built = page.stat().st_mtime if page.is_file() else -1.0
    stores = [store_path(workspace, run) for run in workspace.run_names()]
    newest = max((p.stat().st_mtime for p in stores if p.is_file()), default=None)
    if newest is None or newest <= built:
        return None
    return refresh_after_pass(workspace, recorded=1)


def check_smooth(smooth: int) -> None:
    if smooth < 0:
        raise OrchError("--smooth must be 0 (off) or more points", "orch report")
