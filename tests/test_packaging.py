"""A non-editable install carries the shipped templates, the compiled log scanner and a working `orch`."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO


@pytest.mark.slow
def test_installed_wheel_finds_its_templates(tmp_path: Path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "wheel"), str(REPO)],
        check=True,
    )
    wheel = next((tmp_path / "wheel").glob("orch-*.whl"))
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
    )
    probe = (
        "from orchestrator.templates import shipped, template_names; "
        "from orchestrator.logs.parser import parse_bytes; "
        "print(template_names(None)); "
        "print(shipped('batch/train.sbatch.tmpl').is_file(), shipped('crontab.tmpl').is_file()); "
        "print(parse_bytes(b'1: 2.5, 2.5 avg, 0.1 rate, 1.0 seconds, 64 images\\n').series['avg_loss'][0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    # the templates, and the log scanner compiled into the wheel
    assert out == ["['tiny-shapes', 'yolov3-coco', 'yolov3-tiny', 'yolov3-voc']", "True True", "2.5"]
    assert (
        str(target)
        in subprocess.run(
            [sys.executable, "-c", "import orchestrator; print(orchestrator.__file__)"],
            cwd=tmp_path,
            env={"PYTHONPATH": str(target)},
            capture_output=True,
            text=True,
        ).stdout
    )
    help_text = subprocess.run(
        [str(target / "bin" / "orch"), "--help"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
    ).stdout
    assert "new-run" in help_text
