"""Ongoing evaluation: every new weights file of a run scored with `darknet detector valid`.

Modules, in the order data flows:
    discovery      which weights files of a run exist and are settled (newest first, warm-up ones
                   too, `_final` folded into its twin checkpoint)
    darknet_valid  running `detector valid` (process group, timeout, progress) and checking its output
    evaluate       one weights file x split -> one record (eval .data, darknet, metrics engine)
    store          results/<run>/metrics.jsonl: atomic appends, torn-line tolerant reads, the pass index
    progress       darknet's image counter shown on a terminal or sparsely in a log
    signals        SIGINT/SIGTERM as a stop request honoured between and during evaluations
    passes         one pass over runs under the locks (what `orch eval`, cron and watch run)
    cluster        the same pass as Slurm array jobs (`orch eval --submit`), the ledger that keeps
                   a file from being submitted twice, `orch eval-task`, orch submit's final job
    scheduler      `orch watch` (APScheduler 3.x)
    crontab        `orch crontab` (cron + flock)
    best           choosing the best weights of a run

API other commands use::

    load_results(ws, run) -> list[EvalRecord]    every record in file order (status, report, best)
    passes.backlog(ws, manifest, index)          (pending, exhausted) targets: what a pass would evaluate
                                                 now, and what failed eval.max_attempts times (`orch status`)
    run_pass(ws, runs, PassOptions(gpu=0)) -> PassReport
    cluster.submit_pass(ws, runs) -> SubmitReport

A Target has `.weights` (WeightsFile: path, iteration, final, size, mtime, phase, also), `.split`,
`.attempt` and `.job` (where it runs). The per-run and GPU locks are base.locks'.
"""

import importlib
from typing import Any

# Names are imported on first use: the CLI imports this package for every command, and the
# pass pulls in NumPy and the metrics engine, which `orch --help` should not pay for.
_API = {
    "PassOptions": "passes",
    "PassReport": "passes",
    "run_pass": "passes",
    "load_results": "store",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
