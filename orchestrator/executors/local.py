"""The local executor: the run's `.sbatch` scripts run detached with bash on this machine.

It is what laptops and the demo use when there is no `sbatch`. A chain is one detached
process group (`start_new_session`) running a tiny bash loop: each phase's script with its
output in `logs/<run>/local-<n>.log`, its exit status written to `local-<n>.rc` when it ends,
the next phase only after a zero status. State comes from those files and from the recorded
pid, which is trusted only while `/proc/<pid>/stat` shows the start time we recorded — a
pid reused by another process after a reboot or a long time is not our job.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from orchestrator.executors.base import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    Executor,
    Job,
    JobState,
    new_record,
)
from orchestrator.runs import JobRecord, load_manifest

#: Runs (script, log, rc) triples in order. `trap :` makes the loop outlive a SIGTERM sent to
#: the whole group by `orch cancel`, so the killed phase's status (143) is still written; the
#: scripts themselves get the default signal handling back (bash resets caught traps).
CHAIN_LOOP = """trap : TERM INT HUP
while [ $# -ge 3 ]; do
    bash "$1" >"$2" 2>&1 </dev/null
    status=$?
    echo "$status" >"$3.tmp" && mv "$3.tmp" "$3"
    [ "$status" -eq 0 ] || exit "$status"
    shift 3
done
"""
LOCAL_LOG = re.compile(r"local-(\d+)\.(?:log|rc)$")
CANCEL_GRACE_SECONDS = 10.0
#: Exit statuses of a phase stopped by `orch cancel` (SIGTERM) or Ctrl-C (SIGINT): 128 + signal.
CANCELLED_STATUSES = ("143", "130")


def process_start_ticks(pid: int) -> int | None:
    """Start time of a live (non-zombie) process in clock ticks since boot, else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and ')'
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def spawn_detached(argv: list[str]) -> int:
    """Start `argv` in a new session (its own process group, no terminal), stdio on /dev/null,
    and return its pid. Never waited for: it outlives orch, state comes from its files."""
    null = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    return os.posix_spawnp(argv[0], argv, os.environ, file_actions=null, setsid=True)


def is_our_process(record: JobRecord) -> bool:
    """The recorded pid is alive AND is the process we started (same start time)."""
    return record.pid is not None and process_start_ticks(record.pid) == record.pid_start


class LocalExecutor(Executor):
    name = "local"

    def commands(self, jobs: list[Job]) -> list[str]:
        first = self.next_number(jobs[0].run) if jobs else 1
        lines = []
        for number, job in enumerate(jobs, start=first):
            log = self.ws.relative(self.log_path(job.run, number))
            condition = "then, if it succeeded: " if number > first else "detached: "
            lines.append(f"{condition}bash {self.ws.relative(job.script)} >{log} 2>&1")
        return lines

    def submit(self, jobs: list[Job], chain: int) -> list[JobRecord]:
        first = self.next_number(jobs[0].run)
        numbers = list(range(first, first + len(jobs)))
        argv = ["bash", "-c", CHAIN_LOOP, "orch-local"]
        for number, job in zip(numbers, jobs):
            self.log_path(job.run, number).parent.mkdir(parents=True, exist_ok=True)
            argv += [str(job.script), str(self.log_path(job.run, number)), str(self.rc_path(job.run, number))]
        pid = spawn_detached(argv)
        started = process_start_ticks(pid)
        return [
            new_record(
                self.name,
                job,
                str(number),
                chain,
                self.ws,
                pid=pid,
                pid_start=started,
                log=self.ws.relative(self.log_path(job.run, number)),
                rc_file=self.ws.relative(self.rc_path(job.run, number)),
            )
            for number, job in zip(numbers, jobs)
        ]

    def states(self, records: list[JobRecord]) -> list[JobState]:
        return [self.state(r) for r in records]

    def state(self, record: JobRecord) -> JobState:
        """exited(rc) | running | pending (earlier phase still running) | killed (died without
        an exit status) | never started (an earlier phase failed or the chain was cancelled)."""
        rc_file = self.ws.root / str(record.rc_file)
        if rc_file.is_file():
            status = rc_file.read_text().strip()
            state = COMPLETED if status == "0" else CANCELLED if status in CANCELLED_STATUSES else FAILED
            return JobState(state, f"exited({status})")
        started = (self.ws.root / str(record.log)).exists()
        if is_our_process(record):
            return JobState(RUNNING, "running") if started else JobState(PENDING, "pending")
        return JobState(FAILED, "killed") if started else JobState(CANCELLED, "never started")

    def cancel(self, records: list[JobRecord]) -> None:
        """SIGTERM to each chain's process group, SIGKILL if it is still there after a grace time."""
        groups = {int(r.pid): r for r in records if r.pid is not None and is_our_process(r)}
        for pid in groups:
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + CANCEL_GRACE_SECONDS
        while any(is_our_process(r) for r in groups.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid, record in groups.items():
            if is_our_process(record):
                os.killpg(pid, signal.SIGKILL)

    def log_path(self, run: str, number: int) -> Path:
        return self.ws.logs_dir(run) / f"local-{number}.log"

    def rc_path(self, run: str, number: int) -> Path:
        return self.ws.logs_dir(run) / f"local-{number}.rc"

    def next_number(self, run: str) -> int:
        """One more than any local job number the run used (in run.yaml or as a file)."""
        used = [int(r.job_id) for r in load_manifest(self.ws, run).submissions if r.executor == self.name]
        folder = self.ws.logs_dir(run)
        if folder.is_dir():
            used += [int(m.group(1)) for p in folder.iterdir() if (m := LOCAL_LOG.fullmatch(p.name))]
        return max(used, default=0) + 1
