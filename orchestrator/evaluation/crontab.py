"""`orch crontab`: the cron lines that run an evaluation pass, and merging them into the user's crontab.

Cron runs with PATH=/usr/bin:/bin from the home folder, so every path in the line is absolute,
the user's PATH of the moment is passed on (darknet is often found through it), and the
workspace is entered with `cd`. Values are quoted with shlex.quote and `%` is escaped (cron
turns a bare `%` into a newline). The block sits between marker comments naming the workspace,
so installing twice replaces it and uninstalling removes exactly it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from orchestrator.base.errors import OrchError
from orchestrator.base.values import plain_text
from orchestrator.config import duration_text
from orchestrator.templates import fill, shipped
from orchestrator.workspace import Workspace

CRON_LOG = "logs/eval-cron.log"


def cron_quote(value: str) -> str:
    """A shell word that survives cron: shell-quoted, then `%` escaped for cron."""
    return shlex.quote(value).replace("%", r"\%")


def orch_words() -> list[str]:
    """The absolute command that runs this orch (cron and Slurm jobs do not have the user's PATH)."""
    script = Path(sys.argv[0])
    if script.name == "orch" and script.exists():
        return [str(script.resolve())]
    return [sys.executable, "-m", "orchestrator"]


def orch_command() -> str:
    return " ".join(cron_quote(word) for word in orch_words())


def cron_minutes(every_seconds: float) -> int:
    """An interval as the whole minutes cron counts in (90s cannot be said to cron)."""
    if every_seconds % 60:
        raise OrchError(f"cron counts whole minutes; {duration_text(every_seconds)} is not one", "--every")
    return int(every_seconds // 60)


def schedule(every_minutes: int) -> str:
    """The cron time fields for "every N minutes".

    Cron's `*/N` restarts at every hour (and `*/N` hours at midnight), so only intervals that
    divide the hour (1..30 minutes) or the day (1..24 hours) give even gaps; `*/7` would run at
    :49, :56 and then :00. Those are refused with the choices that work.
    """
    minutes, hours = every_minutes, every_minutes // 60
    if 1 <= minutes < 60 and 60 % minutes == 0:
        return f"*/{minutes} * * * *"
    if minutes % 60 == 0 and 1 <= hours <= 24 and 24 % hours == 0:
        return {1: "0 * * * *", 24: "0 0 * * *"}.get(hours, f"0 */{hours} * * *")
    raise OrchError(
        f"every {duration_text(every_minutes * 60)} gives uneven gaps under cron (its */N restarts at the hour); "
        "use minutes that divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) or hours that divide 24, "
        "or 'orch watch' for any interval",
        "--every",
    )


def render_block(ws: Workspace, every_minutes: int, gpu: int | None) -> str:
    """The marked crontab block for this workspace, rendered from crontab.tmpl: passes on
    `gpu` (None: as orch.yaml says, which may be submitting Slurm jobs)."""
    submit, gpu = ws.config.eval.submits(gpu), ws.config.eval.gpu_of(gpu)
    root = plain_text(str(ws.root), "the workspace path")
    flock = shutil.which("flock")
    if flock is None:
        raise OrchError("flock not found (Debian package util-linux)", "orch crontab")
    template = shipped("crontab.tmpl")
    values = {
        "workspace_label": root,
        "every": duration_text(every_minutes * 60),
        "where": "by Slurm jobs (eval.submit)" if submit else f"on GPU {gpu}",
        "how": "--submit" if submit else f"--gpu {gpu}",
        "schedule": schedule(every_minutes),
        "workspace": cron_quote(root),
        "path": cron_quote(plain_text(os.environ.get("PATH", "/usr/bin:/bin"), "PATH")),
        "flock": cron_quote(flock),
        "lock": cron_quote(str(ws.root / "results" / f".eval-cron-gpu{gpu}.lock")),
        "orch": orch_command(),
        "log": cron_quote(str(ws.root / CRON_LOG)),
    }
    return fill(template.read_text(), values, str(template))


def markers(ws: Workspace) -> tuple[str, str]:
    return f"# >>> orch eval {ws.root} >>>", f"# <<< orch eval {ws.root} <<<"


def without_block(crontab: str, ws: Workspace) -> str:
    """The crontab text with this workspace's block (if any) removed, other lines untouched."""
    begin, end = markers(ws)
    kept, inside = [], False
    for line in crontab.splitlines():
        if line == begin:
            inside = True
        elif inside and line == end:
            inside = False
        elif not inside:
            kept.append(line)
    return "".join(f"{line}\n" for line in kept)


def with_block(crontab: str, ws: Workspace, block: str) -> str:
    """The crontab text with this workspace's block replaced by (or appended as) `block`."""
    rest = without_block(crontab, ws)
    return rest + block if rest.endswith("\n") or not rest else f"{rest}\n{block}"


def read_crontab() -> str:
    """The user's crontab (empty when there is none yet)."""
    crontab = _crontab_binary()
    done = subprocess.run([crontab, "-l"], capture_output=True, text=True)
    if done.returncode != 0:
        if "no crontab" in done.stderr:
            return ""
        raise OrchError(f"crontab -l failed: {done.stderr.strip()}", crontab)
    return done.stdout


def write_crontab(text: str) -> None:
    crontab = _crontab_binary()
    done = subprocess.run([crontab, "-"], input=text, capture_output=True, text=True)
    if done.returncode != 0:
        raise OrchError(f"crontab refused the new table: {done.stderr.strip()}", crontab)


def install(ws: Workspace, every_minutes: int, gpu: int | None) -> str:
    """Merge the block into the user's crontab (idempotent); the block installed."""
    block = render_block(ws, every_minutes, gpu)
    (ws.root / CRON_LOG).parent.mkdir(parents=True, exist_ok=True)
    write_crontab(with_block(read_crontab(), ws, block))
    return block


def uninstall(ws: Workspace) -> bool:
    """Remove this workspace's block; whether there was one."""
    current = read_crontab()
    if markers(ws)[0] not in current.splitlines():
        return False
    write_crontab(without_block(current, ws))
    return True


def _crontab_binary() -> str:
    found = shutil.which("crontab")
    if found is None:
        raise OrchError("crontab not found (Debian package cron)", "orch crontab")
    return found
