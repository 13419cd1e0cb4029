"""Ongoing evaluation: every new weights file of a run scored with `darknet detector valid` (SPEC §6).

Modules, in the order data flows:
    discovery      which weights files of a run exist and are settled (newest first)
    darknet_valid  running `detector valid` (process group, timeout, progress) and checking its output
    evaluate       one weights file x split -> one record (eval .data, darknet, metrics engine)
    store          results/<run>/metrics.jsonl: atomic appends, torn-line tolerant reads, the pass index
    locks          per-run and per-GPU kernel locks (gone with their process, even after SIGKILL)
    passes         one pass over runs under the locks (what `orch eval`, cron and watch run)
    scheduler      `orch watch` (APScheduler 3.x)
    crontab        `orch crontab` (cron + flock)
    best           choosing the best weights of a run

API other commands use::

    load_results(ws, run) -> list[dict]          every record in file order (status, report, best)
    pending_weights(ws, run) -> list[Target]     what a pass would evaluate now (`orch status` "pending")
    exhausted_weights(ws, run) -> list[Target]   failed eval.max_attempts times, skipped until --retry-failed
    run_pass(ws, runs, PassOptions(gpu=0)) -> PassReport

A Target has `.weights` (WeightsFile: path, iteration, final, size, mtime), `.split` and `.attempt`.
"""

from orchestrator.evaluation.passes import PassOptions, PassReport, exhausted_weights, pending_weights, run_pass
from orchestrator.evaluation.store import load_results

__all__ = ["PassOptions", "PassReport", "exhausted_weights", "load_results", "pending_weights", "run_pass"]
