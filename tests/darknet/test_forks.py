"""The fork registry: one name per fork, the older orch.yaml spellings, and what each honours."""

from __future__ import annotations

import pytest
import yaml

from orchestrator.base.errors import OrchError
from orchestrator.config import load_config
from orchestrator.darknet.forks import FORKS, fork
from orchestrator.logs.formats import FORMATS
from orchestrator.runs import scale_for_gpus


@pytest.mark.parametrize(
    "spelling, name",
    [("pjreddie", "pjreddie"), ("gdarknet", "g-darknet"), ("g-darknet", "g-darknet"), ("hankai", "hank-ai")],
)
def test_orch_yaml_spellings_resolve_to_one_name(tmp_path, spelling, name):
    path = tmp_path / "orch.yaml"
    path.write_text(yaml.safe_dump({"darknet": {"flavor": spelling}}))
    assert load_config(path).darknet.flavor == name


def test_unknown_fork_names_the_known_ones():
    with pytest.raises(OrchError, match="'tensorflow' is not one of pjreddie, g-darknet, alexeyab, hank-ai"):
        fork("tensorflow")


def test_every_fork_log_format_has_a_handler():
    assert {f.log_format for f in FORKS.values()} <= {log_format.name for log_format in FORMATS}


def test_learning_rate_divided_by_gpus_except_for_hank_ai():
    assert [scale_for_gpus(name, 4, 0.004, 1000).cfg_learning_rate for name in FORKS] == [0.001, 0.001, 0.001, 0.004]
    assert {scale_for_gpus(name, 4, 0.004, 1000).cfg_burn_in for name in FORKS} == {4000}


def test_what_each_fork_honours():
    assert not fork("pjreddie").reads_loss_keys and fork("g-darknet").reads_loss_keys
    assert "diou" in fork("hankai").iou_losses and "diou" not in fork("gdarknet").iou_losses
    assert [name for name, f in FORKS.items() if f.weights_in_prefix_folder] == ["g-darknet"]
