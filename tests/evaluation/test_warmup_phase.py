"""The warm-up's checkpoints are the first part of a run: best and the pass treat them so."""

from __future__ import annotations

from conftest import eval_record, flat_metrics

from orchestrator.evaluation.best import best_record


def test_best_counts_the_warmup_as_the_runs_first_part():
    warm = eval_record(100, phase="warmup", weights="backup/r1/warmup-r1_100.weights", metrics=flat_metrics(0.4, 0.3))
    early = eval_record(100, metrics=flat_metrics(0.4, 0.3))
    later = eval_record(200, metrics=flat_metrics(0.2, 0.1))
    assert best_record([warm, later], "iou", "mean", "valid") is warm  # a warm-up checkpoint can be the best
    assert best_record([early, warm, later], "iou", "mean", "valid") is early  # same value and iteration: the run's
