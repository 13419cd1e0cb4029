"""`python -m orchestrator.evaluation.guard PARENT_PID -- COMMAND...`: darknet's process group
leader, which takes the whole group down when the evaluator dies.

The evaluator starts darknet in a session of its own and kills that process group on a timeout
or a stop request. If the evaluator itself is killed (SIGKILL, OOM killer) it cannot do that:
the kernel's parent-death signal reaches only its direct child, and whatever darknet started
would live on, holding GPU memory and writing into a folder the next pass uses. So the direct
child is this guard: the parent-death signal (SIGTERM) makes it SIGKILL its whole group. It
passes darknet's end on unchanged: the same exit status, or death by the same signal.

Kept free of orch's other modules: it starts for every evaluation.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1


def kill_group(signum: int = 0, frame: object = None) -> None:
    os.killpg(0, signal.SIGKILL)  # the guard included: nothing of the group outlives it


def main(argv: list[str]) -> int:
    parent, separator, *command = argv
    if separator != "--" or not command:
        print("usage: python -m orchestrator.evaluation.guard PARENT_PID -- COMMAND...", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, kill_group)
    signal.signal(signal.SIGINT, kill_group)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != int(parent):  # the evaluator died before the signal was armed
        kill_group()
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # darknet's core (if any) is the one to keep
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
