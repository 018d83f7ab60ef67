"""The trainer's data side, without ComfyUI: the manifest reader (each bad row kind skipped with its
reason), the square crop and flip of boxes, the COCO importer, the config checks, and the sample
schedule that makes any split of a global batch over processes draw the same numbers."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from gligen_pack.train.coco import coco_rows, write_manifest
from gligen_pack.train.config import ConfigError, config_from_dict, load_config
from gligen_pack.train.data import flipped, read_manifest, square_crop
from gligen_pack.train.sampling import Schedule


def _image(path, w=80, h=60):
    Image.new("RGB", (w, h), (120, 30, 200)).save(path)


def _write(path, lines):
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")


def test_manifest_skips_each_bad_row_kind_with_its_reason(tmp_path):
    _image(tmp_path / "ok.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    good = {"image": "ok.png", "caption": "a cat on a mat",
            "boxes": [{"phrase": "a cat", "box": [0.1, 0.2, 0.6, 0.9]}, {"phrase": "a mat", "box_px": [0, 30, 80, 60]}]}
    _write(tmp_path / "m.jsonl", [
        good,
        {"image": "missing.png", "caption": "x", "boxes": []},                                  # line 2
        {"image": "ok.png", "caption": "x", "boxes": [{"phrase": "a dog", "box_px": [10, 10, 90, 50]}]},  # 3: off
        {"image": "ok.png", "caption": "x", "boxes": [{"phrase": "  ", "box": [0.1, 0.1, 0.5, 0.5]}]},    # 4
        "{not json",                                                                             # 5
        {"image": "broken.png", "caption": "x", "boxes": []},                                    # 6
        {"image": "ok.png", "caption": "x", "boxes": [{"phrase": "a cat", "box": [0.6, 0.1, 0.2, 0.5]}]},  # 7
        {"image": "ok.png", "caption": "x", "boxes": [], "extra": 1},                            # 8
        "",
        good,
    ])
    rows, report = read_manifest(str(tmp_path / "m.jsonl"))
    assert len(rows) == 2 and report.rows == 9 and report.kept == 2
    assert dict(report.skipped) == {"missing image": 1, "box off the image": 1, "empty phrase": 1, "not JSON": 1,
                                    "unreadable image": 1, "bad box": 1, "bad row": 1}
    assert len(report.reasons) == 5  # the first five, with their line numbers
    assert report.reasons[0].startswith("line 2:") and "missing.png" in report.reasons[0]
    assert report.reasons[1].startswith("line 3:") and "x1 = 90 px is outside the 80x60 canvas" in report.reasons[1]
    assert report.reasons[2].startswith("line 4:") and "phrase is empty" in report.reasons[2]
    assert report.reasons[3].startswith("line 5:") and "not valid JSON" in report.reasons[3]
    assert report.reasons[4].startswith("line 6:") and "cannot be read" in report.reasons[4]
    summary = report.summary()
    assert "2 of 9 rows kept" in summary and "1 missing image" in summary and "... and 2 more" in summary
    row = rows[0]
    assert row.phrases == ("a cat", "a mat") and row.size == (80, 60)
    assert row.boxes[1] == (0.0, 0.5, 1.0, 1.0)  # pixels normalised by the image's own size


def test_small_boxes_dropped_and_at_most_max_boxes_keep_the_largest(tmp_path):
    _image(tmp_path / "ok.png", 100, 100)
    boxes = [{"phrase": f"p{i}", "box_px": [0, 0, 10 + i, 10 + i]} for i in range(5)]
    boxes.append({"phrase": "tiny", "box_px": [0, 0, 5, 5]})  # 0.25 % of the image
    _write(tmp_path / "m.jsonl", [{"image": "ok.png", "caption": "", "boxes": boxes}])
    rows, report = read_manifest(str(tmp_path / "m.jsonl"), min_box_area=0.01, max_boxes=3)
    assert rows[0].phrases == ("p2", "p3", "p4")
    assert report.small_boxes_dropped == 1 and report.extra_boxes_dropped == 2


def test_square_crop_and_flip_move_the_boxes_with_the_image(tmp_path):
    _image(tmp_path / "wide.png", 200, 100)
    _write(tmp_path / "m.jsonl", [{"image": "wide.png", "caption": "", "boxes": [
        {"phrase": "left", "box_px": [0, 0, 40, 100]},       # outside the centre square (x 50..150)
        {"phrase": "centre", "box_px": [75, 25, 125, 75]},
        {"phrase": "edge", "box_px": [25, 0, 100, 50]}]}])  # cut at the crop's left edge
    rows, _ = read_manifest(str(tmp_path / "m.jsonl"))
    phrases, boxes = square_crop(rows[0], 0.01)
    assert phrases == ("centre", "edge")
    assert boxes == ((0.25, 0.25, 0.75, 0.75), (0.0, 0.0, 0.5, 0.5))
    assert flipped(boxes) == ((0.25, 0.25, 0.75, 0.75), (0.5, 0.0, 1.0, 0.5))


def test_coco_import_makes_rows_the_reader_accepts(tmp_path):
    _image(tmp_path / "a.jpg", 100, 80)
    _image(tmp_path / "b.jpg", 100, 80)
    ann = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
                      {"id": 2, "file_name": "b.jpg", "width": 100, "height": 80}],
           "categories": [{"id": 5, "name": "dog"}, {"id": 7, "name": "frisbee"}],
           "annotations": [{"image_id": 1, "category_id": 5, "bbox": [10, 10, 50, 40], "iscrowd": 0},
                           {"image_id": 1, "category_id": 7, "bbox": [60, 5, 40.5, 20], "iscrowd": 0},
                           {"image_id": 1, "category_id": 5, "bbox": [0, 0, 100, 80], "iscrowd": 1}]}
    (tmp_path / "ann.json").write_text(json.dumps(ann))
    (tmp_path / "cap.json").write_text(json.dumps({"images": [], "annotations": [
        {"image_id": 1, "caption": " A dog catches a frisbee. "}, {"image_id": 1, "caption": "second"}]}))
    rows, report = coco_rows(str(tmp_path / "ann.json"), str(tmp_path), str(tmp_path / "cap.json"))
    assert report.rows == 2 and report.boxes == 2 and report.crowd_skipped == 1 and report.clamped == 1
    assert rows[0]["caption"] == "A dog catches a frisbee."
    assert rows[0]["boxes"] == [{"phrase": "dog", "box_px": [10, 10, 60, 50]},
                                {"phrase": "frisbee", "box_px": [60, 5, 100, 25]}]
    no_captions, _ = coco_rows(str(tmp_path / "ann.json"), str(tmp_path), skip_empty=True)
    assert len(no_captions) == 1 and no_captions[0]["caption"] == "dog, frisbee"
    write_manifest(rows, str(tmp_path / "coco.jsonl"))
    read, read_report = read_manifest(str(tmp_path / "coco.jsonl"))
    assert read_report.kept == 2 and read[0].phrases == ("dog", "frisbee") and read[1].phrases == ()


def test_config_names_the_bad_key_and_value(tmp_path):
    base = {"checkpoint": "sd15.safetensors", "manifest": "data/m.jsonl", "output": "run"}
    cfg = config_from_dict(base, str(tmp_path))
    assert cfg.learning_rate == 5e-5 and cfg.warmup_steps == 10_000 and cfg.grounding_dropout == 0.1
    assert cfg.caption_dropout == 0.5 and cfg.max_boxes == 30 and cfg.flip
    assert cfg.manifest == str(tmp_path / "data" / "m.jsonl") and cfg.checkpoint == "sd15.safetensors"
    with pytest.raises(ConfigError, match="unknown key\\(s\\) 'learning_rat'"):
        config_from_dict({**base, "learning_rat": 1e-4})
    with pytest.raises(ConfigError, match="'output' must be given"):
        config_from_dict({"checkpoint": "x", "manifest": "y"})
    with pytest.raises(ConfigError, match="batch_size must be a whole number, got 2.5"):
        config_from_dict({**base, "batch_size": 2.5})
    with pytest.raises(ConfigError, match="caption_dropout = 1.5 is not valid; give between 0 and 1"):
        config_from_dict({**base, "caption_dropout": 1.5})
    assert cfg.gate_learning_rate is None  # the paper: one lr for everything
    assert config_from_dict({**base, "gate_learning_rate": 1}).gate_learning_rate == 1.0
    assert config_from_dict({**base, "gate_learning_rate": None}).gate_learning_rate is None
    with pytest.raises(ConfigError, match="gate_learning_rate = 0.0 is not valid; give a positive number, or leave"):
        config_from_dict({**base, "gate_learning_rate": 0})
    with pytest.raises(ConfigError, match="gate_learning_rate must be a number, got 'fast'"):
        config_from_dict({**base, "gate_learning_rate": "fast"})
    (tmp_path / "c.toml").write_text('checkpoint = "a.safetensors"\nmanifest = "m.jsonl"\noutput = "o"\nmax_steps = 7\n')
    assert load_config(str(tmp_path / "c.toml"), {"batch_size": 4}).max_steps == 7
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        load_config(str(tmp_path / "bad.json"))


def test_a_global_batch_draws_the_same_samples_however_it_is_split():
    one = Schedule(10, 4, 1, 2, seed=3, num_timesteps=1000, flip=True, caption_dropout=0.5, grounding_dropout=0.1)
    two = Schedule(10, 2, 2, 2, seed=3, num_timesteps=1000, flip=True, caption_dropout=0.5, grounding_dropout=0.1)
    for step in range(4):
        for micro in range(2):
            assert one.draws(step, micro, 0) == two.draws(step, micro, 0) + two.draws(step, micro, 1)
            assert one.grounding_dropped(step, micro) == two.grounding_dropped(step, micro)
    seen = [d.index for step in range(5) for micro in range(2) for d in one.draws(step, micro, 0)]
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:20]) == list(range(10))  # epochs cover every row
    draws = [d for step in range(50) for d in one.draws(step, 0, 0)]
    assert 0.35 < sum(d.drop_caption for d in draws) / len(draws) < 0.65
    assert len({d.timestep for d in draws}) > 100


def test_the_commands_import_coco_and_refuse_a_bad_config(tmp_path):
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    _image(tmp_path / "a.jpg", 100, 80)
    (tmp_path / "ann.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [{"image_id": 1, "category_id": 1, "bbox": [5, 5, 30, 30], "iscrowd": 0}]}))
    out = subprocess.run([sys.executable, root, "import-coco", str(tmp_path / "ann.json"), str(tmp_path),
                          str(tmp_path / "m.jsonl")], capture_output=True, text=True)
    assert out.returncode == 0 and "1 rows from 1 images, 1 boxes" in out.stdout, out.stderr
    rows, _ = read_manifest(str(tmp_path / "m.jsonl"))
    assert rows[0].phrases == ("cat",) and rows[0].caption == "cat"
    (tmp_path / "c.json").write_text(json.dumps({"checkpoint": "x", "manifest": "m.jsonl", "output": "o",
                                                 "batchsize": 4}))
    bad = subprocess.run([sys.executable, root, "train", str(tmp_path / "c.json")], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown key(s) 'batchsize'" in bad.stdout
