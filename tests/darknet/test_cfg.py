"""cfg/.data I/O: byte-identical round trips, structural edits, line-numbered errors."""

from pathlib import Path

import pytest
from conftest import REPO

from orchestrator.base.errors import OrchError
from orchestrator.darknet.cfg import basecfg, format_value, parse_cfg, read_cfg, render_data

CFGS = sorted((REPO / "cfg_templates").glob("*.cfg")) + sorted(Path("/usr/share/darknet/cfg").glob("*.cfg"))


def test_there_are_cfgs_to_round_trip():
    assert len([p for p in CFGS if "cfg_templates" in str(p)]) == 4
    assert len(CFGS) > 30, "Debian darknet's cfgs are missing: install the darknet package"


@pytest.mark.parametrize("path", CFGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_unchanged_cfg_renders_byte_identical(path: Path):
    raw = path.read_bytes()
    assert read_cfg(path).render().encode() == raw


def test_crlf_and_comments_survive_an_edit():
    text = "# top comment\r\n[net]\r\nbatch=64\r\n; old style comment\r\nlearning_rate = 0.001\r\n\r\n[yolo]\r\nclasses=80\r\n"
    cfg = parse_cfg(text)
    cfg.net.set("learning_rate", 0.00025)
    cfg.net.set("burn_in", 4000)
    assert cfg.render() == (
        "# top comment\r\n[net]\r\nbatch=64\r\n; old style comment\r\n"
        "learning_rate = 0.00025\r\nburn_in=4000\r\n\r\n[yolo]\r\nclasses=80\r\n"
    )


def test_repeated_sections_are_kept_apart_in_order():
    cfg = read_cfg(REPO / "cfg_templates" / "yolov3-voc.cfg")
    assert len(cfg.named("convolutional")) == 75
    assert [y.get("mask") for y in cfg.named("yolo")] == ["6,7,8", "3,4,5", "0,1,2"]
    cfg.named("yolo")[1].set("iou_loss", "giou")
    assert [y.get("iou_loss") for y in cfg.named("yolo")] == [None, "giou", None]


def test_darknet_reads_whitespace_free_keys():
    cfg = parse_cfg("[net]\n max_batches =  500200 \n")
    assert cfg.net.get("max_batches") == "500200"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[net]\nbatch\n", "line 2: expected key=value"),
        ("batch=1\n[net]\n", "line 1: 'batch' appears before the first [section]"),
        ("[net\nbatch=1\n", "line 1: malformed section header"),
        ("# only a comment\n", "no [section] found"),
    ],
)
def test_malformed_cfg_names_the_line(text, message):
    with pytest.raises(OrchError, match=message.replace("[", r"\[")):
        parse_cfg(text, "x.cfg")


def test_data_file_lists_its_entries_in_order_as_darknet_reads_them():
    text = render_data({"classes": 20, "valid": "data/valid.txt", "names": "data/voc.names", "eval": "coco"})
    assert text == "classes = 20\nvalid = data/valid.txt\nnames = data/voc.names\neval = coco\n"


@pytest.mark.parametrize(
    "value, text",
    [(0.001 / 4, "0.00025"), (1e-5, "0.00001"), (4000.0, "4000"), (0.5, "0.5"), ([400, 450], "400,450"), (True, "1")],
)
def test_values_are_written_as_cfgs_spell_them(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize(
    "cfg, base",
    [
        ("runs/r4/r4.cfg", "r4"),
        ("yolov3.coco.cfg", "yolov3"),
        ("a", "a"),
        ("VOC/JPEGImages/2007_000027.v2.jpg", "2007_000027"),
    ],
)
def test_basecfg_cuts_at_the_first_dot(cfg, base):
    assert basecfg(cfg) == base


def test_alexeyab_cfg_values_of_other_types_are_not_refused():
    """AlexeyAB reads yolo `random` as a float (a resize factor) and shortcut `from` as a list:
    a cfg using them is fine for orch, though pjreddie's cfgs never write them so."""
    from orchestrator.darknet.structure import cfg_problems

    text = (REPO / "cfg_templates" / "yolov3-tiny.cfg").read_text()
    assert "random=1" in text
    cfg = parse_cfg(text.replace("random=1", "random=1.2"))
    assert cfg_problems(cfg, "x.cfg") == []
    bad = parse_cfg(text.replace("random=1", "random=big"))
    assert [e.what for e in cfg_problems(bad, "x.cfg")] == ["[yolo] random='big' is not a number"] * text.count(
        "random=1"
    )
    voc = (REPO / "cfg_templates" / "yolov3-voc.cfg").read_text()
    assert cfg_problems(parse_cfg(voc.replace("from=-3", "from=-3,-2", 1)), "x.cfg") == []
    assert cfg_problems(parse_cfg(voc.replace("from=-3", "from=-3,x", 1)), "x.cfg")
