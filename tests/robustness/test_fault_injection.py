"""kill -9 at random moments of real evaluations, four evaluators at once: nothing is lost,
nothing is recorded twice, no lock stays held and no darknet outlives its evaluator.

Real darknet on the session's trained weights (conftest `trained_run`); four runs with six
weights files each, so that four concurrent `orch eval --all` (GPUs 0-3, each takes the runs
the others do not hold) always have work to be killed in the middle of. Each evaluator is
killed at its own random moment, most of them while a darknet runs (seeded: a failure can be
replayed).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_workspace, repeat_valid_list
from waiting import wait_for

from orchestrator.base.locks import Busy, gpu_lock, run_lock
from orchestrator.evaluation.store import store_path
from orchestrator.executors import new_run
from orchestrator.runs import RunSpec
from orchestrator.workspace import Workspace

pytestmark = pytest.mark.slow

RUNS = ("r1", "r2", "r3", "r4")
ITERATIONS = (100, 200, 300, 400, 500, 600)
EVALUATORS = 4
ROUNDS = 5  # x 4 evaluators = 20 kill -9 at least; up to 3x the rounds for 10 during darknet
SEED = 12


def workspace(folder: Path, trained_run: Path) -> Workspace:
    ws = make_workspace(folder, n_train=4, n_valid=8)
    repeat_valid_list(ws, 10)  # ~1 s of darknet per evaluation even on an idle machine
    for run in RUNS:
        new_run(ws, run, RunSpec(template="tiny-shapes", dataset="shapes", max_batches=600, steps=[400, 500]))
        backup = ws.backup_dir(run)
        backup.mkdir(parents=True)
        for n in ITERATIONS:  # the trained weights under six names: six evaluations a run
            shutil.copy(trained_run / "tiny-shapes_300.weights", backup / f"{run}_{n}.weights")
    return ws


def evaluator(ws: Workspace, gpu: int, locks: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "-C", str(ws.root), "eval", "--all", "--gpu", str(gpu)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "ORCH_LOCK_DIR": str(locks)},
    )


def darknet_in(ws: Workspace) -> list[int]:
    """Processes of a `detector valid` (or their guards) working in this workspace."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd == str(ws.root) and b"valid" in argv and b"detector" in argv:
            found.append(int(proc.name))
    return found


def store_lines(ws: Workspace, run: str) -> list[dict]:
    """Every line of the store parsed: a torn or glued line fails here."""
    path = store_path(ws, run)
    if not path.is_file():
        return []
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), f"torn last line in {path}"
    return [json.loads(line) for line in data.splitlines()]


def assert_no_lock_held(ws: Workspace, locks: Path) -> None:
    os.environ["ORCH_LOCK_DIR"] = str(locks)
    try:
        for gpu in range(EVALUATORS):
            with gpu_lock(gpu):
                pass
        for run in RUNS:
            with run_lock(ws.eval_lock_path(run), run):
                pass
    except Busy as busy:
        pytest.fail(f"a lock outlived its evaluator: {busy}")
    finally:
        del os.environ["ORCH_LOCK_DIR"]


def test_kill_9_at_random_moments_of_four_concurrent_evaluators(tmp_path, trained_run):
    ws = workspace(tmp_path / "ws", trained_run)
    locks = tmp_path / "locks"
    rng = random.Random(SEED)
    kills = during_darknet = rounds = 0
    # rounds until 20 kills, 10 of them with a darknet running (how many land there depends on
    # the machine's speed), within a bound
    while (kills < 20 or during_darknet < 10) and rounds < 3 * ROUNDS:
        rounds += 1
        processes = [evaluator(ws, gpu, locks) for gpu in range(EVALUATORS)]
        for i in rng.sample(range(EVALUATORS), EVALUATORS):
            if i:  # three of four wait for a darknet to be running: a kill in the middle of one
                wait_for(lambda p=processes[i]: darknet_in(ws) or p.poll() is not None, "a darknet to start", 60, 0.05)
            time.sleep(rng.uniform(0.0, 1.5))  # anywhere: darknet, scoring, the record, the lock
            during_darknet += bool(darknet_in(ws))
            processes[i].send_signal(signal.SIGKILL)
            kills += 1
        for process in processes:
            process.wait()
            process.stderr.close()
        wait_for(lambda: not darknet_in(ws), "every darknet to die with its evaluator", 15)
        assert_no_lock_held(ws, locks)
        for run in RUNS:
            store_lines(ws, run)  # whole lines only, after every round
    assert kills >= 20 and during_darknet >= 10, (kills, during_darknet)

    final = evaluator(ws, 0, locks)
    _, err = final.communicate(timeout=600)
    assert final.returncode == 0, err.decode()
    for run in RUNS:
        records = store_lines(ws, run)
        ok = [(r["split"], r["weights"]) for r in records if r["status"] == "ok"]
        assert sorted(ok) == sorted(("valid", f"backup/{run}/{run}_{n}.weights") for n in ITERATIONS), run
        assert all(r["status"] == "ok" for r in records), "a kill -9 must not become a failure record"
    assert not darknet_in(ws)
    assert_no_lock_held(ws, locks)
