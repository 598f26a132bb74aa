"""``poselift infer``: the command and the glue between decoding, detection, tracking,
lifting and the writers (issue 4's acceptance list).

The lower modules have their own tests; here everything goes through
``poselift.cli.main.main`` (in-process) or ``python -m poselift.cli.main`` (to see the
real stderr and exit code). A tiny randomly initialised model stands in for the shipped
one so that the tests stay fast and do not depend on it; one test runs the shipped
``default`` model when it exists. Real-video runs use ``../shared`` and are kept short.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from poselift.cli.main import main
from poselift.geometry.skeletons import COCO17, H36M17, convert
from poselift.io import vp3d
from poselift.io.keypoints import OPENPOSE_BODY25
from poselift.io.video import VideoWriter, probe, read_frames
from poselift.lift.model import ModelConfig, TemporalModel
from poselift.lift.weights import save_model

CONTRACT = {"poses_3d", "trajectory", "keypoints_2d", "scores_2d", "valid", "fps", "image_size",
            "joint_names", "parents", "frame_index", "time_s"}
SIZE = (320, 240)  # synthetic keypoint files and blank videos
OPTIONAL = {"focal_length", "principal_point", "poses_world", "camera_to_world"}


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A small focal-normalised h36m17 pose model with random weights (receptive field 9)."""
    cfg = ModelConfig(num_joints_in=17, in_features=2, num_joints_out=17, filter_widths=[3, 3], channels=32,
                      dropout=0.25)
    torch.manual_seed(0)
    model = TemporalModel(cfg.num_joints_in, cfg.in_features, cfg.num_joints_out, cfg.filter_widths,
                          dropout=cfg.dropout, channels=cfg.channels)
    with torch.no_grad():  # non-trivial batch-norm statistics, like a trained network
        for name, t in model.state_dict().items():
            if "running_var" in name:
                t.copy_(torch.rand(t.shape) + 0.5)
            elif "running_mean" in name:
                t.copy_(torch.randn(t.shape) * 0.1)
    meta = {"kind": "pose", "input_layout": "h36m17", "output_layout": "h36m17", "fps": 50.0,
            "input_normalization": "focal", "licence": "test"}
    return save_model(tmp_path_factory.mktemp("model") / "tiny", model.eval(), cfg, meta)


@pytest.fixture(scope="module")
def blank_video(tmp_path_factory):
    """``blank_video(fps)``: a 3-frame black video of SIZE (only probed when keypoints are given)."""
    folder = tmp_path_factory.mktemp("blank")
    made: dict[float, Path] = {}

    def make(fps: float = 25.0, frames: int = 3, name: str | None = None) -> Path:
        key = (fps, frames, name)
        if key not in made:
            path = folder / (name or f"blank{fps:g}.mp4")
            with VideoWriter(path, fps=fps) as w:
                for _ in range(frames):
                    w.write(np.zeros((SIZE[1], SIZE[0], 3), np.uint8))
            made[key] = path
        return made[key]
    return make


def run_infer(*args, model: Path) -> int:
    return main(["infer", *map(str, args), "--model", str(model), "--no-progress"])


def load_result(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def check_contract(path: Path, frames: int, size: tuple[int, int], people: int = 1) -> dict[str, np.ndarray]:
    """The npz contract of issue 4, exactly: keys, dtypes, shapes, units at the root."""
    d = load_result(path)
    # The contract's keys, plus only the documented additions (intrinsics, world placement).
    assert CONTRACT <= set(d) and set(d) - CONTRACT <= OPTIONAL
    assert d["focal_length"].shape == () and d["focal_length"] > 0 and d["principal_point"].shape == (2,)
    P, T = people, frames
    for key, dtype, shape in (("poses_3d", np.float32, (P, T, 17, 3)), ("trajectory", np.float32, (P, T, 3)),
                              ("keypoints_2d", np.float32, (P, T, 17, 2)), ("scores_2d", np.float32, (P, T, 17)),
                              ("valid", np.bool_, (P, T))):
        assert d[key].dtype == dtype and d[key].shape == shape, (key, d[key].dtype, d[key].shape)
    assert d["fps"].shape == () and d["fps"].dtype.kind == "f" and d["fps"] > 0
    assert d["image_size"].dtype.kind == "i" and d["image_size"].tolist() == list(size)
    assert d["joint_names"].dtype.kind == "U" and d["joint_names"].tolist() == list(H36M17.joint_names)
    assert d["parents"].dtype.kind == "i" and d["parents"].tolist() == list(H36M17.parents)
    # Each step's source frame: increasing indices and times on the source's clock.
    assert d["frame_index"].dtype == np.int64 and d["frame_index"].shape == (T,)
    assert d["time_s"].dtype == np.float64 and d["time_s"].shape == (T,)
    assert (np.diff(d["frame_index"]) > 0).all() and (np.diff(d["time_s"]) > 0).all()
    v = d["valid"]
    assert v.any()
    for key in ("poses_3d", "trajectory", "keypoints_2d", "scores_2d"):
        assert np.isfinite(d[key][v]).all(), f"{key} not finite in a valid frame"
    np.testing.assert_allclose(d["poses_3d"][v][:, 0], 0.0, atol=1e-6)  # root joint at the origin
    assert np.isnan(d["poses_3d"][~v]).all()
    return d


def listing(folder: Path) -> list[str]:
    """Everything in a folder, hidden temp files included."""
    return sorted(os.listdir(folder)) if folder.exists() else []


# --------------------------------------------------------------------------- synthetic people
def person_coco(t: np.ndarray, cx: float = 160.0, cy: float = 125.0, height: float = 170.0,
                phase: float = 0.0) -> np.ndarray:
    """A standing person facing the camera, swaying and waving: ``(T, 17, 2)`` COCO-17 pixels,
    a smooth function of time ``t`` (seconds) so any frame rate samples the same motion."""
    off = {  # (x, y) relative to the mid-hip, in person heights; person's left is image right
        "nose": (0, -.42), "left_eye": (.02, -.44), "right_eye": (-.02, -.44), "left_ear": (.04, -.43),
        "right_ear": (-.04, -.43), "left_shoulder": (.11, -.32), "right_shoulder": (-.11, -.32),
        "left_elbow": (.15, -.17), "right_elbow": (-.15, -.17), "left_wrist": (.16, -.03),
        "right_wrist": (-.16, -.03), "left_hip": (.07, 0), "right_hip": (-.07, 0), "left_knee": (.08, .25),
        "right_knee": (-.08, .25), "left_ankle": (.08, .5), "right_ankle": (-.08, .5)}
    base = np.array([off[n] for n in COCO17.joint_names], np.float64) * height
    t = np.asarray(t, np.float64)[:, None]
    kp = np.repeat(base[None], len(t), axis=0)
    kp[..., 0] += cx + 12.0 * np.sin(2 * np.pi * 0.6 * t + phase)
    kp[..., 1] += cy + 3.0 * np.sin(2 * np.pi * 1.1 * t + phase)
    wave = 0.12 * height * np.sin(2 * np.pi * 1.4 * t + phase)[:, 0]
    for name, sign in (("left_wrist", 1), ("right_wrist", -1), ("left_elbow", .5), ("right_elbow", -.5)):
        j = COCO17.joint_names.index(name)
        kp[:, j, 0] += sign * 0.5 * wave
        kp[:, j, 1] -= abs(sign) * wave
    return kp.astype(np.float32)


def _flat(kp: np.ndarray, sc: np.ndarray) -> list[float]:
    return np.concatenate([kp, sc[:, None]], axis=1).astype(float).round(3).ravel().tolist()


def write_coco_results(path: Path, people: list[tuple[np.ndarray, np.ndarray]],
                       skip: set[int] = frozenset()) -> Path:
    """COCO results list: each person ``(kp (T,17,2), joint scores (T,17))``; frames in ``skip`` have nobody."""
    res = []
    for f in range(len(people[0][0])):
        if f in skip:
            continue
        for kp, sc in people:
            res.append({"image_id": f, "category_id": 1, "keypoints": _flat(kp[f], sc[f]),
                        "score": float(sc[f].mean())})
    path.write_text(json.dumps(res))
    return path


def write_coco_dataset(path: Path, kp: np.ndarray) -> Path:
    images = [{"id": 1000 + f, "file_name": f"frame_{f:05d}.jpg", "width": SIZE[0], "height": SIZE[1]}
              for f in range(len(kp))]
    anns = [{"id": f, "image_id": 1000 + f, "category_id": 1, "iscrowd": 0,
             "keypoints": _flat(kp[f], np.full(17, 2.0))} for f in range(len(kp))]
    path.write_text(json.dumps({"images": images, "annotations": anns,
                                "categories": [{"id": 1, "name": "person"}]}))
    return path


_COCO_TO_BODY25 = {"nose": "Nose", "left_eye": "LEye", "right_eye": "REye", "left_ear": "LEar", "right_ear": "REar",
                   "left_shoulder": "LShoulder", "right_shoulder": "RShoulder", "left_elbow": "LElbow",
                   "right_elbow": "RElbow", "left_wrist": "LWrist", "right_wrist": "RWrist", "left_hip": "LHip",
                   "right_hip": "RHip", "left_knee": "LKnee", "right_knee": "RKnee", "left_ankle": "LAnkle",
                   "right_ankle": "RAnkle"}


def write_openpose(folder: Path, kp: np.ndarray) -> Path:
    folder.mkdir()
    for f in range(len(kp)):
        body = np.zeros((25, 3))
        for j, name in enumerate(COCO17.joint_names):
            body[OPENPOSE_BODY25.index(_COCO_TO_BODY25[name])] = (*kp[f, j], 0.85)
        body[OPENPOSE_BODY25.index("Neck")] = (*kp[f, 5:7].mean(0), 0.85)
        doc = {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": body.ravel().tolist()}]}
        (folder / f"clip_{f:012d}_keypoints.json").write_text(json.dumps(doc))
    return folder


def write_alphapose(path: Path, kp: np.ndarray) -> Path:
    res = [{"image_id": f"{f}.jpg", "category_id": 1, "keypoints": _flat(kp[f], np.full(17, 0.8)),
            "score": 2.5, "box": [50, 30, 200, 200], "idx": 1} for f in range(len(kp))]
    path.write_text(json.dumps(res))
    return path


def write_custom_npz(path: Path, kp: np.ndarray) -> Path:
    vp3d.save_custom_dataset(path, {"clip.mp4": vp3d.CustomVideo("clip.mp4", kp, SIZE[0], SIZE[1], "coco17")})
    return path


def write_detectron_npz(path: Path, kp: np.ndarray) -> Path:
    boxes, kps = [], []
    for f in range(len(kp)):
        lo, hi = kp[f].min(0), kp[f].max(0)
        boxes.append(np.array([[lo[0], lo[1], hi[0], hi[1], 0.99]], np.float32))
        k = np.zeros((1, 4, 17), np.float32)
        k[0, :2] = kp[f].T
        k[0, 2] = 5.0  # heatmap logits
        k[0, 3] = 0.9  # probabilities
        kps.append(k)
    vp3d.save_detectron_video(path, boxes, kps, SIZE[0], SIZE[1])
    return path


def expected_h36m(kp_coco: np.ndarray) -> np.ndarray:
    return convert(kp_coco, "coco17", "h36m17")


# --------------------------------------------------------------------------- 1, 2: a real video
@pytest.fixture(scope="module")
def taiji_run(taiji, tiny_model, tmp_path_factory):
    """One real run on the first 4 s of taiji_seed.mp4 with every export."""
    out = tmp_path_factory.mktemp("taiji")
    npy = tmp_path_factory.mktemp("viz") / "viz.npy"
    rc = run_infer(taiji, "-o", out, "--end", "4", "--no-render", "--export", "json,csv", "--viz-export", npy,
                   model=tiny_model)
    return rc, out, npy


@pytest.mark.shared
def test_real_video_npz_contract(taiji, taiji_run):
    rc, out, _ = taiji_run
    assert rc == 0
    assert listing(out) == ["taiji_seed.csv", "taiji_seed.json", "taiji_seed.npz"]
    frames = sum(1 for _ in read_frames(taiji, None, 4.0))
    info = probe(taiji)
    d = check_contract(out / "taiji_seed.npz", frames, (info.width, info.height))
    assert d["fps"] == pytest.approx(info.fps, rel=0.02)
    assert d["valid"].mean() > 0.8, "one person in full view: nearly every frame tracked"
    v = d["valid"][0]
    kp = d["keypoints_2d"][0][v]
    assert (kp[..., 0] >= -0.1 * info.width).all() and (kp[..., 0] <= 1.1 * info.width).all()
    assert (kp[..., 1] >= -0.1 * info.height).all() and (kp[..., 1] <= 1.1 * info.height).all()
    assert ((d["scores_2d"] >= 0) & (d["scores_2d"] <= 1)).all()


@pytest.mark.shared
def test_real_video_exports_match_npz(taiji_run):
    rc, out, npy = taiji_run
    assert rc == 0
    d = load_result(out / "taiji_seed.npz")
    P, T = d["valid"].shape
    doc = json.loads((out / "taiji_seed.json").read_text())
    assert CONTRACT <= set(doc)
    for key in ("poses_3d", "trajectory", "keypoints_2d", "scores_2d"):
        arr = np.array(doc[key], dtype=np.float64)  # null (invalid frames) -> nan
        assert arr.shape == d[key].shape
        np.testing.assert_allclose(arr, d[key], atol=1e-5, equal_nan=True)
    assert doc["valid"] == d["valid"].tolist()
    assert doc["fps"] == pytest.approx(float(d["fps"]))
    assert doc["image_size"] == d["image_size"].tolist()
    assert doc["joint_names"] == d["joint_names"].tolist() and doc["parents"] == d["parents"].tolist()

    with open(out / "taiji_seed.csv", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert len(body) == P * T * 17
    assert {"person", "frame", "joint", "joint_name", "x", "y", "z", "u", "v", "score", "valid"} <= set(header)
    col = {name: i for i, name in enumerate(header)}
    for r in body[:: 7]:
        p, t, j = int(r[col["person"]]), int(r[col["frame"]]), int(r[col["joint"]])
        assert r[col["joint_name"]] == d["joint_names"][j]
        assert int(r[col["valid"]]) == int(d["valid"][p, t])
        xyz = [float(r[col[c]]) if r[col[c]] else np.nan for c in "xyz"]
        np.testing.assert_allclose(xyz, d["poses_3d"][p, t, j], atol=1e-5, equal_nan=True)
        uv = [float(r[col[c]]) for c in "uv"] if d["valid"][p, t] else None
        if uv is not None:
            np.testing.assert_allclose(uv, d["keypoints_2d"][p, t, j], atol=1e-2)

    viz = np.load(npy)
    assert viz.shape == (T, 17, 3) and viz.dtype == np.float32
    np.testing.assert_array_equal(viz, d["poses_3d"][0])


@pytest.mark.shared
def test_render_and_mmss_range(taiji, tiny_model, tmp_path):
    """mm:ss range, and the one rendering run: the mp4 decodes back with the --viz-limit frame count."""
    import av

    out = tmp_path / "out"
    assert run_infer(taiji, "-o", out, "--start", "0:03", "--end", "00:04.5", "--viz-limit", "20",
                     "--viz-size", "160", model=tiny_model) == 0
    assert listing(out) == ["taiji_seed.mp4", "taiji_seed.npz"]
    frames = sum(1 for _ in read_frames(taiji, 3.0, 4.5))
    assert frames > 20
    check_contract(out / "taiji_seed.npz", frames, (448, 336))
    with av.open(str(out / "taiji_seed.mp4")) as c:
        images = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(images) == 20
    assert images[0].shape[0] == 160 and images[0].shape[1] > 160  # video panel beside a square 3D view
    assert images[0].std() > 5, "rendered frames are not blank"


@pytest.mark.shared
def test_fps_lowers_analysed_rate(taiji, taiji_run, tiny_model, tmp_path):
    full = load_result(taiji_run[1] / "taiji_seed.npz")
    assert run_infer(taiji, "-o", tmp_path, "--end", "4", "--fps", "5", "--no-render", model=tiny_model) == 0
    frames = sum(1 for _ in read_frames(taiji, None, 4.0, fps=5))
    d = check_contract(tmp_path / "taiji_seed.npz", frames, (448, 336))
    T_full = full["valid"].shape[1]
    assert frames < T_full / 2
    assert d["fps"] == pytest.approx(5.0, rel=0.1)


@pytest.mark.shared
@pytest.mark.slow
def test_shipped_default_model(taiji, tmp_path):
    from poselift.lift.weights import list_models

    if "default" not in list_models():
        pytest.skip("no shipped 'default' model in poselift/lift/weights yet (it is still being trained)")
    assert main(["infer", str(taiji), "-o", str(tmp_path), "--end", "4", "--no-render", "--no-progress"]) == 0
    d = check_contract(tmp_path / "taiji_seed.npz", sum(1 for _ in read_frames(taiji, None, 4.0)), (448, 336))
    v = d["valid"][0]
    # A real person: bone lengths of a trained model are human-sized (tens of centimetres).
    poses = d["poses_3d"][0][v]
    bones = np.linalg.norm(poses[:, 1:] - poses[:, list(H36M17.parents[1:])], axis=-1)
    assert 0.05 < np.median(bones) < 0.5


def test_world_placement_on_real_video(taiji, tmp_path):
    """``--world``: upright skeletons standing on a floor at Y = 0, also in the JSON and BVH."""
    from poselift.geometry.world import ANKLE_HEIGHT_M
    from poselift.io.bvh import forward_kinematics, read_bvh
    from poselift.lift.weights import list_models

    if "default" not in list_models():
        pytest.skip("no shipped 'default' model in poselift/lift/weights yet (it is still being trained)")
    assert main(["infer", str(taiji), "-o", str(tmp_path), "--end", "6", "--no-render", "--no-progress",
                 "--world", "--export", "json,csv,bvh"]) == 0
    d = check_contract(tmp_path / "taiji_seed.npz", sum(1 for _ in read_frames(taiji, None, 6.0)), (448, 336))
    w, v = d["poses_world"][0], d["valid"][0]
    assert w.shape == d["poses_3d"][0].shape and np.isfinite(w[v]).all()
    cam = d["poses_3d"][0] + d["trajectory"][0][:, None]
    R, t = d["camera_to_world"][:3, :3], d["camera_to_world"][:3, 3]
    np.testing.assert_allclose(w[v], cam[v] @ R.T + t, atol=1e-4)
    # Standing: the head is above the pelvis, the lower ankle sits at ankle height on the floor.
    assert (w[v][:, 10, 1] > w[v][:, 0, 1] + 0.3).mean() > 0.95
    lowest = np.minimum(w[v][:, 3, 1], w[v][:, 6, 1])
    assert abs(np.median(lowest) - ANKLE_HEIGHT_M) < 0.03, np.median(lowest)   # grounded: 8 +- 3 cm
    doc = json.loads((tmp_path / "taiji_seed.json").read_text())
    assert np.allclose(np.array(doc["camera_to_world"]), d["camera_to_world"], atol=1e-5)
    first = next(t for t in range(len(v)) if v[t])
    assert np.allclose(doc["poses_world"][0][first], w[first], atol=1e-5)
    assert np.allclose(doc["trajectory_world"][0][first], w[first, 0], atol=1e-5)
    # The CSV keeps its columns and adds the world ones after them.
    from poselift.export.formats import CSV_COLUMNS, CSV_FRAME_COLUMNS, CSV_WORLD_COLUMNS
    with open(tmp_path / "taiji_seed.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS + CSV_WORLD_COLUMNS + CSV_FRAME_COLUMNS
    row = rows[1 + first * 17 + 6]                          # person 0, first valid frame, left ankle
    assert int(row[1]) == first and row[4] == "left_ankle"
    np.testing.assert_allclose([float(x) for x in row[15:18]], w[first, 6], atol=1e-4)
    np.testing.assert_allclose([float(x) for x in row[18:21]], w[first, 0], atol=1e-4)
    # The BVH is written in the world frame (centimetres): its pelvis is where poses_world's is.
    b = read_bvh(tmp_path / "taiji_seed.bvh")
    pos, _ = forward_kinematics(b, position_mode="replace")
    pelvis = pos[:, b.names.index("pelvis")] / 100.0
    assert np.abs(pelvis[v] - w[v][:, 0]).max() < 0.03


# --------------------------------------------------------------------------- 3: keypoint files
T_KP = 40
FORMATS = {  # name -> (writer, file name, carries its own image size)
    "coco-results": (lambda p, kp: write_coco_results(p, [(kp, np.full((len(kp), 17), 0.9))]), "kp.json", False),
    "coco-dataset": (write_coco_dataset, "kp.json", True),
    "openpose": (write_openpose, "openpose_out", False),
    "alphapose": (write_alphapose, "alphapose-results.json", False),
    "vp3d-custom": (write_custom_npz, "data_2d_custom_clip.npz", True),
    "detectron": (write_detectron_npz, "clip.mp4.npz", True),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_keypoint_formats_with_and_without_video(fmt, tiny_model, blank_video, tmp_path, capfd):
    writer, name, has_size = FORMATS[fmt]
    kp = person_coco(np.arange(T_KP) / 25.0)
    src = writer(tmp_path / name, kp)
    video = blank_video(25.0)

    out = tmp_path / "with_video"
    assert run_infer(video, "--keypoints", src, "-o", out, "--no-render", model=tiny_model) == 0
    assert listing(out) == [f"{video.stem}.npz"]
    d = check_contract(out / f"{video.stem}.npz", T_KP, SIZE)
    assert d["valid"].all()
    assert d["fps"] == pytest.approx(25.0)
    np.testing.assert_allclose(d["keypoints_2d"][0], expected_h36m(kp), atol=0.01)

    out = tmp_path / "alone"
    capfd.readouterr()
    rc = run_infer("--keypoints", src, "-o", out, "--no-render", model=tiny_model)
    err = capfd.readouterr().err
    if has_size:
        assert rc == 0
        d = check_contract(out / f"{src.stem}.npz", T_KP, SIZE)
        np.testing.assert_allclose(d["keypoints_2d"][0], expected_h36m(kp), atol=0.01)
    else:
        assert rc == 1
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(src) in lines[0] and "image size" in lines[0], err
        assert listing(out) == []


def test_person_selection_is_consistent(tiny_model, blank_video, tmp_path):
    """Two people; the per-frame ranking flips every frame. The default follows one person,
    a frame-by-frame strategy jumps between them."""
    t = np.arange(30) / 25.0
    a = person_coco(t, cx=200, cy=120, height=170)                 # large, complete
    b = person_coco(t, cx=70, cy=140, height=110, phase=1.0)        # smaller bystander
    sa = np.where((np.arange(30) % 2 == 0)[:, None], 0.6, 0.95) * np.ones((30, 17))
    sb = np.full((30, 17), 0.9)
    src = write_coco_results(tmp_path / "two.json", [(a, sa), (b, sb)])
    video = blank_video(25.0)

    assert run_infer(video, "--keypoints", src, "-o", tmp_path / "default", "--no-render", model=tiny_model) == 0
    d = check_contract(tmp_path / "default" / f"{video.stem}.npz", 30, SIZE)
    np.testing.assert_allclose(d["keypoints_2d"][0], expected_h36m(a), atol=0.01)

    assert run_infer(video, "--keypoints", src, "-o", tmp_path / "hs", "--person", "highest-score", "--no-render",
                     model=tiny_model) == 0
    hs = load_result(tmp_path / "hs" / f"{video.stem}.npz")["keypoints_2d"][0]
    near_b = np.abs(hs - expected_h36m(b)).max(axis=(1, 2)) < 0.01
    assert near_b[::2].all() and not near_b[1::2].any()


def test_gaps_filled_or_invalid(tiny_model, blank_video, tmp_path):
    """At 30 fps: a 0.1 s gap is interpolated; a 0.7 s gap (> --max-gap 0.5) becomes invalid."""
    n = 75
    kp = person_coco(np.arange(n) / 30.0)
    short, long_ = set(range(10, 13)), set(range(30, 51))
    src = write_coco_results(tmp_path / "gaps.json", [(kp, np.full((n, 17), 0.9))], skip=short | long_)
    video = blank_video(30.0)
    npy = tmp_path / "viz" / "poses.npy"
    npy.parent.mkdir()
    assert run_infer(video, "--keypoints", src, "-o", tmp_path / "out", "--no-render", "--export", "csv,json",
                     "--viz-export", npy, model=tiny_model) == 0
    assert listing(tmp_path / "out") == [f"{video.stem}.{e}" for e in ("csv", "json", "npz")]
    d = check_contract(tmp_path / "out" / f"{video.stem}.npz", n, SIZE)
    valid = d["valid"][0]
    expect = np.ones(n, bool)
    expect[sorted(long_)] = False
    np.testing.assert_array_equal(valid, expect)
    assert np.isnan(d["poses_3d"][0, sorted(long_)]).all() and np.isnan(d["keypoints_2d"][0, sorted(long_)]).all()
    # The short gap is a linear interpolation between its neighbours.
    np.testing.assert_allclose(d["keypoints_2d"][0, sorted(short)], expected_h36m(kp)[sorted(short)], atol=1.0)
    assert (d["scores_2d"][0, sorted(short)] < 0.9).all(), "filled joints carry a lower confidence"

    # Invalid frames in the exports: null in JSON, empty cells in CSV, NaN in the npy.
    doc = json.loads((tmp_path / "out" / f"{video.stem}.json").read_text())
    assert doc["valid"] == [valid.tolist()]
    assert doc["poses_3d"][0][40] == [[None] * 3] * 17 and None not in np.ravel(doc["poses_3d"][0][20]).tolist()
    with open(tmp_path / "out" / f"{video.stem}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n * 17
    r40 = [r for r in rows if r["frame"] == "40"]
    assert len(r40) == 17 and all(r["valid"] == "0" and r["x"] == r["y"] == r["z"] == "" for r in r40)
    assert all(r["x"] != "" for r in rows if r["valid"] == "1")
    viz = np.load(npy)
    assert viz.shape == (n, 17, 3) and np.isnan(viz[40]).all() and np.isfinite(viz[valid]).all()

    # --max-gap 1 fills the long gap too.
    assert run_infer(video, "--keypoints", src, "-o", tmp_path / "g1", "--max-gap", "1", "--no-render",
                     model=tiny_model) == 0
    assert load_result(tmp_path / "g1" / f"{video.stem}.npz")["valid"].all()


def test_frame_rate_resampling_consistent(tiny_model, blank_video, tmp_path):
    """The same motion at 15 and at 60 fps lifts to the same 3D at common instants (the
    model works at 50 fps); lifting without resampling would disagree."""
    from poselift.lift.pipeline import Tracks2D, lift_tracks
    from poselift.lift.weights import load_model

    dur = 3.0
    res = {}
    for fps in (15, 60):
        t = np.arange(int(dur * fps) + 1) / fps
        kp = person_coco(t)
        src = write_coco_results(tmp_path / f"kp{fps}.json", [(kp, np.full((len(t), 17), 0.9))])
        video = blank_video(float(fps))
        out = tmp_path / f"o{fps}"
        assert run_infer(video, "--keypoints", src, "-o", out, "--no-render", "--focal-length", "300",
                         model=tiny_model) == 0
        res[fps] = check_contract(out / f"{video.stem}.npz", len(t), SIZE)
        assert res[fps]["fps"] == pytest.approx(fps)
    p15, p60 = res[15]["poses_3d"][0], res[60]["poses_3d"][0][::4]
    assert p15.shape == p60.shape
    inner = slice(3, -3)  # edges are padded differently at each rate
    err = np.abs(p15[inner] - p60[inner]).mean()

    # Control: the same two sequences lifted as if they were at the model's rate.
    lm = load_model(tiny_model)
    naive = {}
    for fps in (15, 60):
        kp = expected_h36m(person_coco(np.arange(int(dur * fps) + 1) / fps))
        tr = Tracks2D(kp[None], np.ones(kp.shape[:2], np.float32)[None], np.ones((1, len(kp)), bool), "h36m17",
                      SIZE[0], SIZE[1], fps=None)
        naive[fps] = lift_tracks(lm, tr, focal_px=300.0).poses_3d[0]
    naive_err = np.abs(naive[15][inner] - naive[60][::4][inner]).mean()
    spread = np.abs(p60 - p60.mean(axis=0)).mean()
    assert err < 0.25 * naive_err, (err, naive_err)
    assert err < 0.1 * spread, (err, spread)


# --------------------------------------------------------------------------- 4: errors
def _one_error_line(err: str, name: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert name in lines[0], err
    return lines[0]


def _write_random(path: Path, n: int = 4096) -> Path:
    path.write_bytes(np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes())
    return path


@pytest.mark.parametrize("case", ["corrupt", "empty", "missing", "wrong-joints", "outdir-under-file", "nobody"])
def test_errors_are_one_clean_line(case, tiny_model, blank_video, tmp_path, capfd):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    out = tmp_path / "out"
    args: list = []
    if case == "corrupt":
        bad = _write_random(inputs / "corrupt.mp4")
    elif case == "empty":
        bad = inputs / "empty.mp4"
        bad.write_bytes(b"")
    elif case == "missing":
        bad = inputs / "missing.mp4"
    elif case == "wrong-joints":
        bad = inputs / "kp18.json"
        bad.write_text(json.dumps([{"image_id": 0, "category_id": 1, "keypoints": [1.0, 2.0, 0.9] * 18,
                                    "score": 0.9}]))
        args = [blank_video(25.0), "--keypoints", bad]
    elif case == "outdir-under-file":
        bad = inputs / "a_file"
        bad.write_text("x")
        out = bad / "out"
        args = ["--keypoints", write_coco_dataset(tmp_path / "ok.json", person_coco(np.arange(5) / 25))]
    elif case == "nobody":
        bad = inputs / "nobody.mp4"
        with VideoWriter(bad, fps=10) as w:
            for _ in range(8):
                w.write(np.zeros((120, 160, 3), np.uint8))
    capfd.readouterr()
    rc = run_infer(*(args or [bad]), "-o", out, "--no-render", model=tiny_model)
    err = capfd.readouterr().err
    assert rc != 0
    line = _one_error_line(err, str(bad))
    if case == "nobody":
        assert "no person" in line
    if case == "outdir-under-file":
        assert listing(inputs) == ["a_file"]
    else:
        assert listing(out) == [], "no partial output left behind"


@pytest.mark.parametrize("argv, message", [
    (["a.mp4", "b.mp4", "--viz-export", "x.npy"], "--viz-export goes with one video at a time"),
    (["a.mp4", "b.mp4", "--keypoints", "k.json"], "--keypoints goes with one video at a time"),
    (["a.mp4", "--export", "json,xml"], "unknown --export format(s): xml"),
    (["a.mp4", "--start", "1:75"], "invalid time"),
    ([], "give at least one video"),
])
def test_argument_errors(argv, message, tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"x")
    assert main(["infer", *argv]) == 1
    err = capfd.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("poselift infer: error:") and message in lines[0], err
    assert listing(tmp_path) == ["a.mp4", "b.mp4"]


def _cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "poselift.cli.main", "infer", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_cli_process_corrupt_video(tiny_model, tmp_path):
    bad = _write_random(tmp_path / "noise.mp4")
    out = tmp_path / "out"
    p = _cli(bad, "-o", out, "--model", tiny_model)
    assert p.returncode == 1
    line = _one_error_line(p.stderr, str(bad))
    assert "decode" in line or "video" in line
    assert p.stdout == "" and listing(out) == []


@pytest.mark.shared
def test_cli_process_batch_keeps_going(taiji, tiny_model, tmp_path):
    """Two good videos and a broken one: the good ones are written, a summary is
    printed, the exit code is 1."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "a_taiji.mp4").symlink_to(taiji)
    (src / "b_taiji.mp4").symlink_to(taiji)
    bad = _write_random(src / "c_broken.mp4")
    out = tmp_path / "out"
    p = _cli(src, "-o", out, "--end", "3.4", "--no-render", "--model", tiny_model)
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    assert listing(out) == ["a_taiji.npz", "b_taiji.npz"]
    assert "2/3 ok" in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 4, p.stderr  # "2/3 ok", then one line per input, nothing else
    failed = [ln for ln in p.stderr.splitlines() if ln.startswith("failed")]
    assert len(failed) == 1 and str(bad) in failed[0]
    assert sum(ln.startswith("ok") for ln in p.stderr.splitlines()) == 2
    frames = sum(1 for _ in read_frames(taiji, None, 3.4))
    for stem in ("a_taiji", "b_taiji"):
        check_contract(out / f"{stem}.npz", frames, (448, 336))


def test_time_range_with_keypoint_file_is_refused(tiny_model, blank_video, tmp_path, capfd):
    """--start/--end/--fps choose video frames to detect on; they cannot trim a keypoint file."""
    kp = person_coco(np.arange(T_KP) / 25.0)
    src = write_custom_npz(tmp_path / "data_2d_custom_clip.npz", kp)
    out = tmp_path / "out"
    capfd.readouterr()
    rc = run_infer(blank_video(25.0), "--keypoints", src, "--start", "0:01", "-o", out, "--no-render",
                   model=tiny_model)
    err = capfd.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "--keypoints" in err[0] and str(src) in err[0]
    assert listing(out) == []
