"""The Slurm executor: `sbatch --parsable`, one `squeue` for every job, `scancel`.

Every Slurm command goes through `self.run`, so tests can count the calls (status must cost
ONE squeue whatever the number of runs) or answer them without a cluster. A missing command
behaves like a failing one, which lets `orch status` work on a machine without Slurm.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable

from orchestrator.base.errors import OrchError
from orchestrator.executors.base import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    UNKNOWN,
    Executor,
    Job,
    JobState,
    new_record,
)
from orchestrator.runs import JobRecord
from orchestrator.workspace import Workspace

Runner = Callable[[list[str]], subprocess.CompletedProcess]

#: What status shows for a job Slurm no longer knows (finished long ago, no accounting).
FORGOTTEN = "UNKNOWN"
#: Slurm's long state names (squeue %T, sacct, scontrol) on orch's small state set; every other
#: name (FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, PREEMPTED ...) is a failure.
SLURM_STATES = {
    **dict.fromkeys(("PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "CONFIGURING"), PENDING),
    **dict.fromkeys(("RUNNING", "COMPLETING", "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED"), RUNNING),
    "COMPLETED": COMPLETED,
    "CANCELLED": CANCELLED,
    FORGOTTEN: UNKNOWN,
}


def job_state(raw: str) -> JobState:
    return JobState(SLURM_STATES.get(raw, FAILED), raw)


def run_command(argv: list[str]) -> subprocess.CompletedProcess:
    """Run a Slurm command, capturing its output; a missing binary is exit status 127."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return subprocess.CompletedProcess(argv, 127, "", f"{argv[0]}: command not found")


def sbatch_argv(job: Job, after: str | None) -> list[str]:
    """sbatch for one job; a chained job starts after `after` succeeded and is cancelled by
    Slurm when that one failed (instead of pending forever on DependencyNeverSatisfied)."""
    argv = ["sbatch", "--parsable"]
    if after is not None:
        argv += [f"--dependency=afterok:{after}", "--kill-on-invalid-dep=yes"]
    return argv + [str(job.script)]


def first_error_lines(text: str) -> str:
    """Slurm's stderr folded into one line (the CLI prints errors on one line)."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip()) or "no message"


class SlurmExecutor(Executor):
    name = "slurm"

    def __init__(self, ws: Workspace, run: Runner | None = None):
        super().__init__(ws)
        self.run = run if run is not None else run_command  # looked up now: tests patch it

    def commands(self, jobs: list[Job]) -> list[str]:
        previous = None
        lines = []
        for job in jobs:
            lines.append(shlex.join(sbatch_argv(job, previous)))
            previous = f"<job id of {job.phase}>"
        return lines

    def submit(self, jobs: list[Job], chain: int) -> list[JobRecord]:
        records: list[JobRecord] = []
        try:
            for job in jobs:
                after = records[-1].job_id if records else None
                records.append(new_record(self.name, job, self.sbatch(job, after), chain, self.ws, after=after))
        except OrchError:
            if records:  # a chain is all or nothing: do not leave a warm-up without its sequel
                self.cancel(records)
            raise
        return records

    def sbatch(self, job: Job, after: str | None) -> str:
        """Submit one job and return its id; sbatch's own error text reaches the user."""
        done = self.run(sbatch_argv(job, after))
        job_id = done.stdout.strip().split(";")[0]
        if done.returncode != 0 or not job_id.isdigit():
            raise OrchError(
                f"sbatch refused run {job.run} ({job.phase}): {first_error_lines(done.stderr)}",
                self.ws.relative(job.script),
            )
        return job_id

    def states(self, records: list[JobRecord]) -> list[JobState]:
        ids = list(dict.fromkeys(r.job_id for r in records))
        if not ids:
            return []
        states = self.squeue(ids)
        missing = [i for i in ids if i not in states]
        if missing:
            states.update(self.sacct(missing) or self.scontrol(missing))
        return [job_state(states.get(r.job_id, FORGOTTEN)) for r in records]

    def squeue(self, ids: list[str]) -> dict[str, str]:
        """States of the queued and running jobs among `ids`: ONE call for all of them."""
        done = self.run(["squeue", "--noheader", "--all", "--jobs", ",".join(ids), "--format", "%i|%T"])
        if done.returncode != 0:  # also "Invalid job id specified" when none is queued any more
            return {}
        return dict(_pairs(done.stdout))

    def sacct(self, ids: list[str]) -> dict[str, str]:
        """Final states from accounting; {} when the cluster keeps none."""
        done = self.run(
            ["sacct", "--noheader", "--allocations", "--parsable2", "--jobs", ",".join(ids), "--format", "JobID,State"]
        )
        if done.returncode != 0:
            return {}
        # "CANCELLED by 0" -> CANCELLED
        return {job: state.split()[0] for job, state in _pairs(done.stdout) if state}

    def scontrol(self, ids: list[str]) -> dict[str, str]:
        """Without accounting, slurmctld still remembers jobs that ended recently (MinJobAge)."""
        states = {}
        for job_id in ids:
            done = self.run(["scontrol", "--oneliner", "show", "job", job_id])
            match = re.search(r"\bJobState=(\S+)", done.stdout)
            if done.returncode == 0 and match:
                states[job_id] = match.group(1)
        return states

    def cancel(self, records: list[JobRecord]) -> None:
        ids = [r.job_id for r in records]
        if not ids:
            return
        done = self.run(["scancel", *ids])
        if done.returncode != 0:
            raise OrchError(f"scancel failed: {first_error_lines(done.stderr)}", " ".join(ids))


def _pairs(text: str) -> list[tuple[str, str]]:
    """`id|STATE` lines as pairs (blank and malformed lines skipped)."""
    return [tuple(line.split("|", 1)) for line in text.splitlines() if "|" in line]  # type: ignore[misc]
