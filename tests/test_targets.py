"""Typed targets: label maps with named structures, located findings, and their bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from medlib.datasets import load_dataset
from medlib.datasets.cache import dataset_chunks, open_cache, write_cache
from medlib.datasets.dataset import open_shared_dataset, share_dataset
from medlib.errors import DatasetError
from medlib.training.fingerprint import data_fingerprint

ROWS = [  # path, label, x, y, radius: two findings on a.png, none on c.png
    ("a.png", "nodule", "10", "12", "3"),
    ("a.png", "nodule", "40", "20", "2"),
    ("b.png", "nodule", "30", "30", "4"),
    ("c.png", "normal", "", "", ""),
]


def _write_set(root: Path, rows=ROWS, mask_values=(0, 100, 200), labels: dict | None = None,
               size=(48, 64)) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for name in sorted({r[0] for r in rows}):
        cv2.imwrite(str(root / "images" / name), rng.integers(0, 255, size, dtype=np.uint8))
        mask = np.zeros(size, np.uint8)
        for k, value in enumerate(mask_values[1:]):
            mask[5 + 10 * k: 12 + 10 * k, 5:20] = value
        cv2.imwrite(str(root / "masks" / name), mask)
    lines = ["path,mask,label,x,y,radius_px"] + [f"images/{p},masks/{p},{lab},{x},{y},{r}" for p, lab, x, y, r in rows]
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    if labels is not None:
        (root / "labels.json").write_text(json.dumps({"labels": labels}))
    return root


NAMES = {"0": "background", "100": "right lung", "200": "heart"}


def test_a_manifest_with_named_structures_and_findings_keeps_them(tmp_path):
    dataset = load_dataset(_write_set(tmp_path / "set", labels=NAMES))
    info = dataset.summary()
    assert info["structures"] == ["right lung", "heart"] and info["dimensions"] == 2 and info["images"] == 3
    assert info["findings"] == {"count": 3, "images": 2, "kinds": {"point": 3}, "labels": {"nodule": 3}}
    a = dataset.ids.index("a")
    assert sorted(np.unique(dataset.masks[a]).tolist()) == [0, 1, 2]  # values 100, 200 stored as 1, 2
    assert [f.centre for f in dataset.findings[a]] == [(10.0, 12.0), (40.0, 20.0)]
    facts = data_fingerprint(dataset)
    assert set(facts["masks"]["structures"]) == {"right lung", "heart"} and facts["findings"]["kinds"] == ["point"]


def test_findings_and_structures_survive_the_cache_and_the_shared_copy(tmp_path):
    dataset = load_dataset(_write_set(tmp_path / "set", labels=NAMES))
    cached = open_cache(write_cache(dataset, dataset_chunks(dataset), tmp_path / "cache"))
    shared = open_shared_dataset(share_dataset(dataset, tmp_path / "shared"))
    for copy in (cached, shared):
        assert copy.structures == dataset.structures and copy.findings == dataset.findings
        assert copy.fingerprint == dataset.fingerprint
    assert dataset.subset("train").findings is not None


def test_findings_move_with_their_image_when_the_set_is_brought_to_one_size(tmp_path):
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    for name, size in (("a.png", (40, 80)), ("b.png", (64, 64)), ("c.png", (50, 60))):
        image = np.zeros(size, np.uint8)
        cv2.circle(image, (60, 10), 3, 255, -1) if name == "a.png" else None
        cv2.imwrite(str(root / "images" / name), image)
    (root / "manifest.csv").write_text("path,label,x,y,radius_px\nimages/a.png,nodule,60,10,3\n"
                                       "images/b.png,normal,,,\nimages/c.png,normal,,,\n")
    dataset = load_dataset(root)
    (finding,) = dataset.findings[dataset.ids.index("a")]
    image = dataset.images[dataset.ids.index("a"), ..., 0]
    ys, xs = np.nonzero(image > 127)
    assert abs(xs.mean() - finding.centre[0]) < 1 and abs(ys.mean() - finding.centre[1]) < 1
    assert finding.radius == pytest.approx(3 * dataset.image_size[1] / 80)


def test_a_one_value_mask_stays_one_structure(tmp_path):
    dataset = load_dataset(_write_set(tmp_path / "set", mask_values=(0, 255)))
    assert dataset.structures == ["foreground"] and dataset.masks.max() == 1


@pytest.mark.parametrize(("change", "message"), [
    ({"labels": None}, r"2 foreground values \(100, 200\) and nothing names them: add a labels.json"),
    ({"labels": {"0": "background", "100": "lung"}}, r"holds value\(s\) 200 that no structure is named for"),
    ({"rows": [("a.png", "nodule", "99", "12", "3")]}, r"line 2: the point \(99, 12\) lies outside its 64×48 image"),
    ({"rows": [("a.png", "nodule", "9", "12", "-1")]}, r"line 2: radius_px = -1 is negative"),
    ({"rows": [("a.png", "nodule", "9", "twelve", "1")]}, r"line 2: y = 'twelve' is not a number"),
])
def test_bad_targets_are_refused_in_one_line_naming_the_file(tmp_path, change, message):
    kwargs = {"labels": NAMES} | change
    with pytest.raises(DatasetError, match=message):
        load_dataset(_write_set(tmp_path / "set", **kwargs))


def test_a_box_the_wrong_way_round_and_a_row_for_a_missing_image_are_refused(tmp_path):
    root = _write_set(tmp_path / "set", labels=NAMES)
    (root / "manifest.csv").write_text("path,label,x0,y0,x1,y1\nimages/a.png,nodule,20,5,10,9\n"
                                       "images/b.png,normal,,,,\n")
    with pytest.raises(DatasetError, match=r"line 2: the box \(20, 5, 10, 9\) has x1 < x0"):
        load_dataset(root)
    (root / "manifest.csv").write_text("path,label\nimages/a.png,nodule\nimages/gone.png,normal\n")
    with pytest.raises(DatasetError, match=r"missing file\(s\): images/gone.png \(line 3\)"):
        load_dataset(root)


def test_boxes_are_read_as_boxes(tmp_path):
    root = _write_set(tmp_path / "set", labels=NAMES)
    (root / "manifest.csv").write_text("path,label,x0,y0,x1,y1,finding\nimages/a.png,sick,2,3,10,9,mass\n"
                                       "images/b.png,well,,,,,\nimages/c.png,well,,,,,\n")
    (finding,) = load_dataset(root).findings[0]
    assert finding.kind == "box" and finding.box == (2.0, 3.0, 10.0, 9.0) and finding.label == "mass"


def test_jsrt_is_a_classification_set_with_116_nodules_and_three_structures(shared_data):
    info = load_dataset(shared_data / "jsrt").summary()
    assert info["images"] == 187 and info["dimensions"] == 2
    assert info["structures"] == ["right lung", "left lung", "heart"]
    assert info["findings"]["count"] == 116 and info["findings"]["kinds"] == {"point": 116}
    assert info["classes"] == ["normal", "nodule"]  # the finding is class 1, whatever the alphabet says
