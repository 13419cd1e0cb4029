"""run.yaml as typed records: a manifest written by earlier orch versions is read into
`Scaling` and `JobRecord`s and written back byte for byte (existing workspaces keep working)."""

from __future__ import annotations

import pytest

from orchestrator.base.errors import OrchError
from orchestrator.runs import JobRecord, Scaling, dump_manifest, load_manifest
from orchestrator.workspace import Workspace, init_workspace

#: A run.yaml as orch wrote it before job records and scaling were typed: a local chain and a
#: Slurm chain with a warm-up (the keys each executor adds), in the order they were written.
WRITTEN_BEFORE = """\
# orch run manifest: written by orch, read by every command
name: multi
template: tiny-shapes
dataset: shapes
flavor: pjreddie
gpus: 2
params:
  iou_loss: null
  learning_rate: null
  settings: {}
scaling:
  rule: lr = base / N, burn_in = base x N
  gpus: 2
  base_learning_rate: 0.001
  base_burn_in: 100
  cfg_learning_rate: 0.0005
  cfg_burn_in: 200
files:
  data: runs/multi/multi.data
  cfg: runs/multi/multi.cfg
  sbatch: batch/multi.sbatch
  weights_base: multi
  backup: backup/multi
created: '2026-11-20T10:00:00+00:00'
classes: 3
max_batches: 300
submissions:
- executor: local
  phase: train
  job_id: '1'
  chain: 1
  gpus: 2
  script: batch/multi.sbatch
  submitted: '2026-11-20T10:01:00+00:00'
  pid: 4242
  pid_start: 123456
  log: logs/multi/local-1.log
  rc_file: logs/multi/local-1.rc
- executor: slurm
  phase: warmup
  job_id: '17'
  chain: 2
  gpus: 1
  script: batch/multi.warmup.sbatch
  submitted: '2026-11-20T11:00:00+00:00'
  warmup: 100
- executor: slurm
  phase: train
  job_id: '18'
  chain: 2
  gpus: 2
  script: batch/multi.sbatch
  submitted: '2026-11-20T11:00:01+00:00'
  after: '17'
"""


@pytest.fixture
def ws(tmp_path) -> Workspace:
    ws = init_workspace(tmp_path / "ws")
    (ws.run_dir("multi")).mkdir(parents=True)
    (ws.run_dir("multi") / "run.yaml").write_text(WRITTEN_BEFORE)
    return ws


def test_an_earlier_manifest_reads_as_typed_records_and_writes_back_unchanged(ws):
    manifest = load_manifest(ws, "multi")
    assert manifest.scaling == Scaling("lr = base / N, burn_in = base x N", 2, 0.001, 100, 0.0005, 200)
    local, warmup, train = manifest.submissions
    assert (local.executor, local.job_id, local.pid, local.rc_file) == ("local", "1", 4242, "logs/multi/local-1.rc")
    assert (warmup.phase, warmup.warmup, warmup.after) == ("warmup", 100, None)
    assert (train.job_id, train.after, train.chain, train.gpus) == ("18", "17", 2, 2)
    assert manifest.job_ids() == ["1", "17", "18"]
    assert dump_manifest(manifest) == WRITTEN_BEFORE


def test_numeric_job_ids_written_by_hand_are_read_as_text(ws):
    path = ws.run_dir("multi") / "run.yaml"
    path.write_text(WRITTEN_BEFORE.replace("job_id: '17'", "job_id: 17"))
    assert load_manifest(ws, "multi").submissions[1] == JobRecord(
        "slurm",
        "warmup",
        "17",
        chain=2,
        gpus=1,
        script="batch/multi.warmup.sbatch",
        submitted="2026-11-20T11:00:00+00:00",
        warmup=100,
    )


@pytest.mark.parametrize(
    "damage",
    [
        ("scaling:\n", "scaling: 3\n"),
        ("- executor: local\n", "- executor: local\n  nonsense: [\n"),
        ("  job_id: '1'\n", ""),
    ],
)
def test_a_damaged_manifest_is_one_error_naming_the_file(ws, damage):
    path = ws.run_dir("multi") / "run.yaml"
    path.write_text(WRITTEN_BEFORE.replace(*damage, 1))
    with pytest.raises(OrchError, match=r"run\.yaml is damaged") as error:
        load_manifest(ws, "multi")
    assert error.value.where == "runs/multi/run.yaml"
