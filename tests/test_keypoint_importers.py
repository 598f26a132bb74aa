"""Importers of COCO / OpenPose / AlphaPose 2D keypoints, on small files written here."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from poselift.errors import InputError
from poselift.geometry.skeletons import COCO17
from poselift.io.keypoints import (OPENPOSE_BODY25, OPENPOSE_COCO18, detect_format, load_alphapose_json,
                                   load_coco_json, load_keypoints, load_openpose_folder)


def _coco_flat(frame: int, person: int, score: float = 0.9) -> list[float]:
    """17 x (x, y, c) with x encoding the joint and frame, y the person."""
    return [v for j in range(17) for v in (10.0 * j + frame, 100.0 * (person + 1) + j, score)]


def test_coco_results_list(tmp_path):
    res = []
    for f in (0, 1, 3):  # frame 2 has nobody: it must become an empty time step
        res.append({"image_id": f, "category_id": 1, "keypoints": _coco_flat(f, 0, 0.8), "score": 0.7})
        res.append({"image_id": f, "category_id": 1, "keypoints": _coco_flat(f, 1, 0.9), "score": 0.95})
    res.append({"image_id": 1, "category_id": 2, "keypoints": _coco_flat(1, 5), "score": 0.99})  # not a person
    path = tmp_path / "results.json"
    path.write_text(json.dumps(res))
    assert detect_format(path) == "coco"
    seq = load_keypoints(path, fps=25)
    assert seq.keypoints.shape == (2, 4, 17, 2) and seq.scores.shape == (2, 4, 17)
    assert seq.keypoints.dtype == np.float32 and seq.scores.dtype == np.float32
    np.testing.assert_array_equal(seq.frame_indices, [0, 1, 2, 3])
    assert seq.layout == "coco17" and seq.fps == 25 and seq.track_ids is None
    # Slot 0 is the better-scored detection of each frame (person 1).
    assert seq.keypoints[0, 3, 2, 0] == pytest.approx(23.0) and seq.keypoints[0, 3, 2, 1] == pytest.approx(202.0)
    np.testing.assert_array_equal(seq.present[:, 2], [False, False])
    assert seq.scores[1, 0, 0] == pytest.approx(0.8)
    np.testing.assert_allclose(seq.timestamps, [0, 0.04, 0.08, 0.12])
    people = seq.people_per_frame()
    assert [len(p) for p in people] == [2, 2, 0, 2] and people[0][0].layout == "coco17"


def test_coco_dataset_dict_uses_images_and_visibility_flags(tmp_path):
    images = [{"id": 501 + i, "file_name": f"frame_{i:04d}.jpg", "width": 640, "height": 480} for i in range(3)]
    kps = _coco_flat(0, 0, 2.0)
    kps[2::3] = [2] * 15 + [0, 1]  # left ankle unlabeled, right ankle occluded-but-labeled
    anns = [{"id": 1, "image_id": 502, "category_id": 1, "keypoints": kps, "num_keypoints": 16, "iscrowd": 0},
            {"id": 2, "image_id": 503, "category_id": 1, "keypoints": kps, "iscrowd": 1}]
    path = tmp_path / "person_keypoints.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}, f)
    seq = load_keypoints(path)
    assert seq.image_size == (640, 480)
    np.testing.assert_array_equal(seq.frame_indices, [0, 1, 2])  # from the file names
    assert seq.num_people == 1
    np.testing.assert_array_equal(seq.present[0], [False, True, False])  # crowd skipped
    assert seq.scores[0, 1, COCO17.index("left_ankle")] == 0
    assert seq.scores[0, 1, COCO17.index("right_ankle")] == 1
    assert seq.keypoints[0, 1, COCO17.index("left_ankle")].tolist() == [0, 0]


def _openpose_file(folder, frame, people, prefix="clip"):
    (folder / f"{prefix}_{frame:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))


@pytest.mark.parametrize("names", [OPENPOSE_BODY25, OPENPOSE_COCO18], ids=["body25", "coco18"])
def test_openpose_folder_maps_joints_by_name(tmp_path, names):
    def flat(frame):
        # Each joint's x is its index in the OpenPose layout, so the mapping is visible.
        return [v for j, n in enumerate(names) for v in (float(j), float(frame), 0.0 if n == "LAnkle" else 0.8)]

    for f in range(3):
        _openpose_file(tmp_path, f, [{"person_id": [-1], "pose_keypoints_2d": flat(f)}])
    _openpose_file(tmp_path, 3, [])
    assert detect_format(tmp_path) == "openpose"
    seq = load_keypoints(tmp_path)
    assert seq.keypoints.shape == (1, 4, 17, 2)
    for coco_name, op_name in (("nose", "Nose"), ("left_shoulder", "LShoulder"), ("right_hip", "RHip"),
                               ("left_ear", "LEar"), ("right_ankle", "RAnkle")):
        assert seq.keypoints[0, 1, COCO17.index(coco_name), 0] == names.index(op_name)
    assert seq.scores[0, 0, COCO17.index("left_ankle")] == 0
    assert not seq.present[0, 3]
    np.testing.assert_array_equal(seq.frame_indices, [0, 1, 2, 3])


def test_alphapose_results_with_and_without_tracking(tmp_path):
    halpe26 = [v for j in range(26) for v in (float(j), 5.0, 0.9)]
    res = [{"image_id": f"{f}.jpg", "category_id": 1, "keypoints": halpe26, "score": 2.5, "idx": idx}
           for f in range(3) for idx in (4, 7)]
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(res))
    assert detect_format(path) == "alphapose"
    seq = load_keypoints(path)
    assert seq.keypoints.shape == (2, 3, 17, 2)
    np.testing.assert_array_equal(seq.track_ids, [4, 7])
    assert seq.keypoints[0, 0, 16, 0] == 16  # first 17 Halpe joints are COCO's
    for r in res:
        r.pop("idx")
    path.write_text(json.dumps(res))
    seq = load_alphapose_json(path)
    assert seq.track_ids is None and seq.num_people == 2


def test_errors_are_one_line_input_errors(tmp_path):
    bad_count = tmp_path / "bad_count.json"
    bad_count.write_text(json.dumps([{"image_id": 0, "category_id": 1, "keypoints": [1.0] * 48, "score": 1}]))
    with pytest.raises(InputError, match=r"expected 51 \(17 joints x 3\) keypoint values, got 48"):
        load_keypoints(bad_count)
    with pytest.raises(InputError, match="got 60"):
        load_alphapose_json(_write(tmp_path / "a.json", [{"image_id": "0.jpg", "keypoints": [0] * 60}]))
    folder = tmp_path / "op"
    folder.mkdir()
    _openpose_file(folder, 0, [{"pose_keypoints_2d": [0.5] * 57}])
    with pytest.raises(InputError, match=r"75 \(25 joints x 3\) or 54"):
        load_openpose_folder(folder)
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(InputError, match="file is empty"):
        load_keypoints(empty)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"image_id": 0, "keypoints": [1, 2')
    with pytest.raises(InputError, match="not valid JSON"):
        load_keypoints(broken)
    with pytest.raises(InputError, match="unrecognised keypoint file"):
        load_keypoints(_write(tmp_path / "other.json", {"hello": 1}))
    with pytest.raises(InputError, match="no person keypoints"):
        load_keypoints(_write(tmp_path / "none.json", []))
    with pytest.raises(InputError, match="no \\*_keypoints.json"):
        load_openpose_folder(tmp_path / "op_empty") if (tmp_path / "op_empty").mkdir() is None else None
    with pytest.raises(InputError, match="cannot read a frame number"):
        load_alphapose_json(_write(tmp_path / "n.json", [{"image_id": "x.jpg", "keypoints": [0.0] * 51}]))
    with pytest.raises(InputError) as info:
        load_coco_json(bad_count)
    assert "\n" not in str(info.value) and str(bad_count) in str(info.value)


def _write(path, data):
    path.write_text(json.dumps(data))
    return path
