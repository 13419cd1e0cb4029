"""Ongoing evaluation end to end with the real darknet (Debian's CPU build) on really trained weights.

Faults darknet cannot be made to produce on demand (segfault, hang, half-written output) use the
stand-in tests/fakes/darknet_fault; everything else runs `darknet detector valid` for real.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import make_workspace, repeat_valid_list
from waiting import wait_for

from orchestrator.cli import main
from orchestrator.evaluation import load_results, run_pass
from orchestrator.evaluation.passes import PassOptions, backlog
from orchestrator.evaluation.store import EvalRecord, StoreIndex, store_path
from orchestrator.executors import new_run
from orchestrator.runs import RunSpec, load_manifest
from orchestrator.workspace import Workspace

pytestmark = pytest.mark.slow

FAKE_DARKNET = Path(__file__).parents[1] / "fakes" / "darknet_fault"
ALL_WEIGHTS = ("100", "200", "300", "final")


def eval_workspace(folder: Path, trained_run: Path, weights=ALL_WEIGHTS, n_valid: int = 16, **settings) -> Workspace:
    """A workspace with run r1 of tiny-shapes whose backup holds copies of the trained weights."""
    ws = make_workspace(folder, n_train=4, n_valid=n_valid, **settings)
    new_run(ws, "r1", RunSpec(template="tiny-shapes", dataset="shapes", max_batches=300, steps=[200, 250]))
    backup = ws.backup_dir("r1")
    backup.mkdir(parents=True)
    for label in weights:  # darknet names weights after the cfg: runs/r1/r1.cfg -> r1_<n>.weights
        shutil.copy(trained_run / f"tiny-shapes_{label}.weights", backup / f"r1_{label}.weights")
    return ws


def use_darknet(ws: Workspace, binary: str) -> Workspace:
    """The workspace with another darknet binary in orch.yaml (a fresh object: config is cached)."""
    config = yaml.safe_load((ws.root / "orch.yaml").read_text())
    config["darknet"]["binary"] = binary
    (ws.root / "orch.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Workspace(ws.root)


def orch_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def orch_process(ws: Workspace, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "-C", str(ws.root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def darknet_running(ws: Workspace) -> list[int]:
    """Pids of darknet processes evaluating in this workspace (and of the guards leading their groups)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            b"valid" in argv
            and any(str(ws.root).encode() in a or a.startswith(b"results/r1/") for a in argv)
            and any(a.endswith(b"darknet") for a in argv)
        ):
            found.append(int(proc.name))
    return found


def darknet_started(ws: Workspace, label: str = "final") -> bool:
    log = ws.results_dir("r1") / label / "valid" / "darknet.log"
    return log.is_file() and b"Loading weights" in log.read_bytes()


def backlog_of(ws: Workspace, run: str) -> tuple[list, list]:
    """(pending, exhausted) targets of a run, as `orch status` computes them."""
    return backlog(ws, load_manifest(ws, run), StoreIndex.load(ws, run))


def key(record: EvalRecord) -> tuple:
    return (record.split, record.weights, record.size, record.mtime)


def test_eval_all_records_every_weights_file_and_a_second_pass_does_nothing(tmp_path, trained_run, capsys):
    ws = eval_workspace(tmp_path / "ws", trained_run)
    first = orch_json(capsys, "-C", str(ws.root), "eval", "--all", "--gpu", "0")
    # darknet saved r1_300 and r1_final from the same network: one model, evaluated once
    assert [(o["iteration"], o["status"]) for o in first["evaluated"]] == [(300, "ok"), (200, "ok"), (100, "ok")]
    records = load_results(ws, "r1")
    assert sorted(r.weights for r in records) == sorted(f"backup/r1/r1_{w}.weights" for w in ("100", "200", "300"))
    assert [r.also for r in records] == [("backup/r1/r1_final.weights",), (), ()]
    assert all(r.job == {"executor": "local", "id": None} and r.phase == "train" for r in records)
    for record in records:
        assert record.status == "ok" and record.style == "voc" and record.error is None
        assert set(record.metrics) == {"iou", "giou"}
        assert all(
            len(block.ap) == 10 and set(block.by_label()) == {"square", "circle", "triangle"}
            for block in record.metrics.values()
        )
        assert record.darknet_seconds > 0 and record.attempt == 1 and record.flavor == "pjreddie"
    assert backlog_of(ws, "r1") == ([], [])

    second = orch_json(capsys, "-C", str(ws.root), "eval", "--all", "--gpu", "0")
    assert second["evaluated"] == [] and second["seconds"] < 0.5
    assert len(load_results(ws, "r1")) == 3

    best = orch_json(capsys, "-C", str(ws.root), "best", "r1", "--metric", "giou")
    values = {r.weights: r.metrics["giou"].mean for r in records}
    assert best["value"] == max(values.values()) and values[best["weights"]] == best["value"]


def test_voc_record_equals_a_direct_orch_map_on_the_same_darknet_output(tmp_path, trained_run, capsys):
    ws = eval_workspace(tmp_path / "ws", trained_run, weights=("final",))
    run_pass(ws, ["r1"], PassOptions(gpu=0))
    [record] = load_results(ws, "r1")
    dataset = ws.config.datasets["shapes"]
    imageset = tmp_path / "imageset.txt"
    imageset.write_text(
        "".join(f"{Path(line).stem}\n" for line in (ws.root / dataset.valid["valid"]).read_text().split())
    )
    direct = orch_json(
        capsys,
        "-C",
        str(ws.root),
        "map",
        "voc",
        "--detections",
        str(ws.results_dir("r1") / "final" / "valid"),
        "--annotations",
        str(ws.root / dataset.ground_truth),
        "--imageset",
        str(imageset),
        "--names",
        str(ws.root / dataset.names),
    )
    assert any(v > 0 for v in record.metrics["iou"].ap), "trained weights should detect something"
    for metric in ("iou", "giou"):
        for field in ("ap", "mean", "per_class"):
            assert record.metrics[metric].to_json()[field] == direct["metrics"][metric][field]


def test_coco_record_equals_a_direct_orch_map_on_the_same_darknet_output(tmp_path, trained_run, capsys):
    ws = eval_workspace(tmp_path / "ws", trained_run, weights=("final",), eval_style="coco", ground_truth="coco")
    run_pass(ws, ["r1"], PassOptions(gpu=0))
    [record] = load_results(ws, "r1")
    output = ws.results_dir("r1") / "final" / "valid" / "coco_results.json"
    assert record.status == "ok" and record.style == "coco" and output.is_file()
    assert record.ap_method == "101point"
    direct = orch_json(
        capsys,
        "-C",
        str(ws.root),
        "map",
        "coco",
        "--gt",
        str(ws.root / ws.config.datasets["shapes"].ground_truth),
        "--dt",
        str(output),
    )
    for metric in ("iou", "giou"):
        assert len(record.metrics[metric].stats) == 12
        for field in ("ap", "mean", "stats"):
            assert record.metrics[metric].to_json()[field] == direct["metrics"][metric][field]


def test_kill_9_in_the_middle_of_darknet_leaves_nothing_behind_and_the_next_pass_evaluates(tmp_path, trained_run):
    ws = eval_workspace(tmp_path / "ws", trained_run, weights=("final",), n_valid=48)
    repeat_valid_list(ws, 10)
    evaluator = orch_process(ws, "eval", "r1")
    wait_for(lambda: darknet_started(ws), "darknet to start", 60)
    assert darknet_running(ws)
    evaluator.kill()
    evaluator.wait()
    wait_for(lambda: not darknet_running(ws), "darknet to die with its evaluator", 10)
    assert load_results(ws, "r1") == []
    report = run_pass(ws, ["r1"], PassOptions(gpu=0))  # neither lock blocks
    assert [o.status for o in report.outcomes] == ["ok"] and not report.busy
    assert [r.status for r in load_results(ws, "r1")] == ["ok"]


def test_sigterm_stops_darknet_records_nothing_and_exits_130(tmp_path, trained_run):
    ws = eval_workspace(tmp_path / "ws", trained_run, weights=("final",), n_valid=48)
    repeat_valid_list(ws, 30)
    evaluator = orch_process(ws, "eval", "r1")
    wait_for(lambda: darknet_started(ws), "darknet to start", 60)
    evaluator.send_signal(signal.SIGTERM)
    assert evaluator.wait(timeout=10) == 130
    assert not darknet_running(ws) and load_results(ws, "r1") == []


def test_four_concurrent_evaluators_never_duplicate_a_record(tmp_path, trained_run):
    ws = eval_workspace(tmp_path / "ws", trained_run)
    evaluators = [orch_process(ws, "eval", "--all", "--gpu", str(gpu)) for gpu in range(4)]
    for evaluator in evaluators:
        _, err = evaluator.communicate(timeout=120)
        assert evaluator.returncode == 0, err
    run_pass(ws, ["r1"], PassOptions(gpu=0))  # finish anything a busy evaluator left
    keys = [key(r) for r in load_results(ws, "r1")]
    assert len(keys) == len(set(keys)) == 3  # _final is r1_300's twin


def test_truncated_weights_fail_bounded_times_while_the_others_go_on(tmp_path, trained_run):
    ws = eval_workspace(tmp_path / "ws", trained_run, weights=("300", "final"), max_attempts=2)
    weights = ws.backup_dir("r1") / "r1_300.weights"
    os.truncate(weights, weights.stat().st_size // 2)
    first = run_pass(ws, ["r1"], PassOptions(gpu=0))
    assert sorted((o.weights, o.status) for o in first.outcomes) == [
        ("backup/r1/r1_300.weights", "failed"),
        ("backup/r1/r1_final.weights", "ok"),
    ]
    assert "truncated" in first.failed[0].error
    second = run_pass(ws, ["r1"], PassOptions(gpu=0))
    assert [(o.iteration, o.status) for o in second.outcomes] == [(300, "failed")]
    assert run_pass(ws, ["r1"], PassOptions(gpu=0)).outcomes == []
    assert [t.weights.path for t in backlog_of(ws, "r1")[1]] == ["backup/r1/r1_300.weights"]
    retried = run_pass(ws, ["r1"], PassOptions(gpu=0, retry_failed=True))
    assert [o.status for o in retried.outcomes] == ["failed"]
    failures = [r for r in load_results(ws, "r1") if r.status == "failed"]
    assert [r.attempt for r in failures] == [1, 2, 3] and not failures[0].metrics


@pytest.mark.parametrize(
    "fault, error, in_tail",
    [
        ("segfault", "killed by SIGSEGV", "Loading weights"),
        ("half", "darknet wrote no comp4_det_test_<class>.txt for 2 of 3 classes", "Couldn't open file"),
        ("hang", "timed out after 1 s", "Loading weights"),
    ],
)
def test_darknet_faults_become_failure_records_with_the_log_tail(
    tmp_path, trained_run, monkeypatch, fault, error, in_tail
):
    ws = eval_workspace(tmp_path / "ws", trained_run, weights=("100", "200"), timeout=1)
    ws = use_darknet(ws, str(FAKE_DARKNET))
    monkeypatch.setenv("FAKE_DARKNET_FAULT", fault)
    started = time.monotonic()
    report = run_pass(ws, ["r1"], PassOptions(gpu=0))
    assert time.monotonic() - started < 20
    assert [o.status for o in report.outcomes] == ["failed", "failed"]  # one failure does not stop the other
    record = load_results(ws, "r1")[0]
    assert error in record.error and in_tail in record.log_tail
    assert not darknet_running(ws)


def test_configuration_errors_are_run_errors_that_cost_no_attempt(tmp_path, trained_run):
    """An empty valid list, a missing ground truth, a missing darknet: one run-level error per pass
    and no record; once fixed, the file is evaluated without --retry-failed (max_attempts 1)."""
    ws = eval_workspace(tmp_path / "ws", trained_run, weights=("final",), max_attempts=1)
    valid = ws.root / ws.config.datasets["shapes"].valid["valid"]
    truth = ws.root / ws.config.datasets["shapes"].ground_truth
    images = valid.read_text()
    valid.write_text("")
    shutil.move(truth, tmp_path / "truth")
    broken = [
        ("has 0 image(s)", lambda: valid.write_text(images)),
        ("cannot load the ground truth", lambda: shutil.move(tmp_path / "truth", truth)),
    ]
    for expected, repair in broken:
        report = run_pass(Workspace(ws.root), ["r1"], PassOptions(gpu=0))
        assert report.outcomes == [] and [e.run for e in report.errors] == ["r1"]
        assert expected in report.errors[0].error and "\n" not in report.errors[0].error
        repair()
    report = run_pass(use_darknet(ws, "no-such-darknet"), ["r1"], PassOptions(gpu=0))
    assert report.outcomes == [] and "darknet binary not found" in report.errors[0].error
    assert load_results(ws, "r1") == []
    report = run_pass(use_darknet(ws, "darknet"), ["r1"], PassOptions(gpu=0))
    assert [(o.status, o.error) for o in report.outcomes] == [("ok", None)] and report.errors == []


def test_a_run_darknet_would_misread_never_stops_the_runs_after_it(tmp_path, trained_run, capsys):
    """Sorted first: a run whose cfg was broken by hand (run-level error, no record) and a run
    given the weights of a larger cfg (a failure record saying so, darknet never started); r1 after
    them is evaluated, and `orch eval` exits 3."""
    ws = eval_workspace(tmp_path / "ws", trained_run, weights=("final",))
    spec = RunSpec(template="tiny-shapes", dataset="shapes", max_batches=300, steps=[200, 250])
    new_run(ws, "a-bad", spec)
    new_run(ws, "b-foreign", spec.updated(settings={"convolutional[0].filters": "4"}))
    for run in ("a-bad", "b-foreign"):
        ws.backup_dir(run).mkdir(parents=True)
        shutil.copy(trained_run / "tiny-shapes_final.weights", ws.backup_dir(run) / f"{run}_final.weights")
    cfg = ws.run_dir("a-bad") / "a-bad.cfg"
    cfg.write_text(cfg.read_text().replace("size=3", "size=x3", 1))
    capsys.readouterr()
    assert main(["-C", str(ws.root), "eval", "--all", "--gpu", "0", "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert [e["run"] for e in report["errors"]] == ["a-bad"] and "size='x3'" in report["errors"][0]["error"]
    assert [(o["run"], o["status"]) for o in report["evaluated"]] == [("b-foreign", "failed"), ("r1", "ok")]
    foreign = load_results(ws, "b-foreign")[0]
    assert foreign.error.startswith("weights file does not fit the cfg") and foreign.darknet_seconds is None
    assert load_results(ws, "a-bad") == [] and not (ws.results_dir("b-foreign") / "final").exists()


def test_watch_evaluates_on_its_interval_and_stops_cleanly_on_sigterm(tmp_path, trained_run):
    ws = eval_workspace(tmp_path / "ws", trained_run, weights=("100",))
    watcher = orch_process(ws, "watch", "--every", "1s", "--gpu", "0")
    wait_for(lambda: len(load_results(ws, "r1")) == 1, "the first pass", 60)
    shutil.copy(trained_run / "tiny-shapes_200.weights", ws.backup_dir("r1") / "r1_200.weights")
    wait_for(lambda: len(load_results(ws, "r1")) == 2, "a later pass to pick up new weights", 60)
    watcher.send_signal(signal.SIGTERM)
    _, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
    assert "pass done" in err and "stopping" in err
    assert [r.iteration for r in load_results(ws, "r1")] == [100, 200]
    page = ws.reports_dir() / "index.html"  # rebuilt after the pass that recorded the last one
    assert page.stat().st_mtime >= store_path(ws, "r1").stat().st_mtime


CRON_PIDFILE = "/run/crond.pid"  # Debian's cron writes its pid there


def cron_running() -> bool:
    return subprocess.run(["pgrep", "-x", "cron"], capture_output=True).returncode == 0


def test_cron_runs_the_installed_line(tmp_path, trained_run):
    """Installs the real crontab line, lets the cron daemon run it, restores the user's crontab."""
    if os.geteuid() != 0 or shutil.which("cron") is None:
        pytest.skip("needs root and the cron daemon (Debian package cron)")
    ws = eval_workspace(tmp_path / "ws", trained_run, weights=("100",))
    saved = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    started_cron = not cron_running()
    if started_cron:
        subprocess.run(["cron"], check=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "orchestrator", "-C", str(ws.root), "crontab", "--install", "--every", "1"],
            check=True,
            capture_output=True,
        )
        wait_for(lambda: load_results(ws, "r1"), "cron to evaluate the weights", 130, every=1)
    finally:
        subprocess.run(
            [sys.executable, "-m", "orchestrator", "-C", str(ws.root), "crontab", "--uninstall"],
            check=True,
            capture_output=True,
        )
        assert str(ws.root) not in subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout
        if saved.returncode == 0:
            subprocess.run(["crontab", "-"], input=saved.stdout, text=True, check=True)
        else:
            subprocess.run(["crontab", "-r"], check=True)
        if started_cron:
            os.kill(int(Path(CRON_PIDFILE).read_text()), signal.SIGTERM)
    assert [r.status for r in load_results(ws, "r1")] == ["ok"]
    assert "pass done" in (ws.root / "logs" / "eval-cron.log").read_text()
