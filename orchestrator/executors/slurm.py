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
from pathlib import Path

from orchestrator.base.errors import OrchError
from orchestrator.base.fsutil import atomic_write
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

#: A job Slurm could not tell about (squeue failed, or no Slurm here).
FORGOTTEN = "UNKNOWN"
#: A job that has ended (squeue no longer lists it) but left no trace: Slurm forgot it and its
#: script never wrote its status file. Callers who know what the job should leave judge it.
ENDED = "ENDED"
#: Slurm's long state names (squeue %T, sacct, scontrol) on orch's small state set; every other
#: name (FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, PREEMPTED ...) is a failure.
SLURM_STATES = {
    **dict.fromkeys(("PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "CONFIGURING"), PENDING),
    **dict.fromkeys(("RUNNING", "COMPLETING", "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED"), RUNNING),
    "COMPLETED": COMPLETED,
    "CANCELLED": CANCELLED,
    FORGOTTEN: UNKNOWN,
    ENDED: UNKNOWN,
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


def base_id(job_id: str) -> str:
    """The job id of an array task id (`123_4` -> `123`); a plain job id is its own."""
    return job_id.split("_", 1)[0]


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
        return self.sbatch_argv(sbatch_argv(job, after), f"run {job.run} ({job.phase})", job.script)

    def sbatch_argv(self, argv: list[str], what: str, script: Path) -> str:
        """Run an `sbatch --parsable` command line and return the job id it printed."""
        done = self.run(argv)
        job_id = done.stdout.strip().split(";")[0]
        if done.returncode != 0 or not job_id.isdigit():
            raise OrchError(f"sbatch refused {what}: {first_error_lines(done.stderr)}", self.ws.relative(script))
        return job_id

    def submit_array(self, script: Path, arguments: list[str], tasks: int, max_parallel: int, what: str) -> str:
        """One array job of `tasks` tasks (ids 0..tasks-1), at most `max_parallel` running at once."""
        argv = ["sbatch", "--parsable", f"--array=0-{tasks - 1}%{max_parallel}", str(script), *arguments]
        return self.sbatch_argv(argv, what, script)

    def submit_after(self, script: Path, arguments: list[str], after: str, what: str) -> str:
        """One job that starts when job `after` has ended, however it ended (afterany)."""
        argv = ["sbatch", "--parsable", f"--dependency=afterany:{after}", str(script), *arguments]
        return self.sbatch_argv(argv, what, script)

    def states(self, records: list[JobRecord]) -> list[JobState]:
        ids = list(dict.fromkeys(r.job_id for r in records))
        if not ids:
            return []
        states = self.queued(ids)
        if states is None:
            return [job_state(FORGOTTEN) for _ in records]
        states.update(self.ended_states([i for i in ids if i not in states]))
        return [job_state(states[r.job_id]) for r in records]

    def queued(self, ids: list[str]) -> dict[str, str] | None:
        """States of the queued and running jobs and array tasks among `ids` (`123`, `123_4`):
        ONE squeue for all of them. None when Slurm could not answer (then nothing is known to
        have ended); a job missing from the answer has ended."""
        if not ids:
            return {}
        bases = ",".join(dict.fromkeys(base_id(i) for i in ids))
        done = self.run(["squeue", "--noheader", "--all", "--array", "--jobs", bases, "--format", "%i|%T"])
        if done.returncode != 0:
            # "Invalid job id specified": none of them is known any more, so all have ended
            return {} if "Invalid job id" in done.stderr else None
        return {job: state for job, state in _pairs(done.stdout) if job in ids}

    def ended_states(self, ids: list[str]) -> dict[str, str]:
        """Final states of jobs squeue no longer lists (so they have ended): the state orch
        cached when it first saw it, else accounting (sacct) or slurmctld's short memory
        (scontrol), else what the job's script left (`left_state`), else ENDED. Final states
        are cached."""
        states = {i: state for i in ids if (state := self.cached_state(i))}
        asked = [i for i in ids if i not in states]
        if asked:
            answers = self.sacct(asked) or self.scontrol(asked)
            for job_id in asked:
                state = answers.get(job_id) or self.left_state(job_id)
                if state is not None:
                    self.cache_state(job_id, state)
                states[job_id] = state or ENDED
        return states

    def cached_state(self, job_id: str) -> str | None:
        try:
            return (self.ws.jobs_dir() / f"{job_id}.state").read_text().strip() or None
        except OSError:
            return None

    def cache_state(self, job_id: str, state: str) -> None:
        if not job_state(state).active:
            atomic_write(self.ws.jobs_dir() / f"{job_id}.state", state + "\n")

    def left_state(self, job_id: str) -> str | None:
        """The state of an ended job from `<jobs_dir>/<id>.rc`, where orch's scripts write
        `started` when they start and their exit status when they end: 0 is COMPLETED, a
        SIGTERM/SIGINT status CANCELLED, another status or none (killed outright, node lost)
        FAILED. None without the file (never started, or a script older than the file)."""
        try:
            status = (self.ws.jobs_dir() / f"{job_id}.rc").read_text().strip()
        except OSError:
            return None
        return "COMPLETED" if status == "0" else "CANCELLED" if status in ("143", "130") else "FAILED"

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
