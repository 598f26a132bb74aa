"""The Python API (issue 11): ``poselift.Pipeline`` and ``poselift.Result``, the per-stage
options shared with ``poselift infer``, the README's example, and inference without torch.

Real components throughout: the shipped ``default`` model on the NumPy backend, the shipped
BlazePose detector, a real video (the first 3 s of ``../shared/videos/taiji_seed.mp4``,
re-encoded; skipped when ``../shared`` is absent).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import poselift
from conftest import REPO, shared_dir
from poselift.io.video import VideoWriter, read_frames
from poselift.options import (DecodeOptions, DetectOptions, ExportOptions, LiftOptions, OptionError,
                              PipelineOptions, PlaceOptions, RenderOptions, TrackOptions)

SRC = str(REPO / "src")

# Put in front of sys.meta_path, this makes `import torch` (and every torch.* module)
# fail as it does in an environment where torch is not installed.
NO_TORCH = textwrap.dedent("""
    import sys
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError("No module named 'torch' (blocked by the test)", name=name)
            return None
    sys.meta_path.insert(0, _NoTorch())
    for _m in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
        del sys.modules[_m]
""")


def run_python(code: str, cwd: Path, *, block_torch: bool = False, timeout: int = 900) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (this checkout's sources first on the path)."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "PYTHONWARNINGS": "ignore"}
    prelude = NO_TORCH if block_torch else ""
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The first 45 frames (3 s) of taiji_seed.mp4 (one person, 448x336, 15 fps), re-encoded."""
    from itertools import islice

    src = shared_dir() / "videos" / "taiji_seed.mp4"
    if not src.is_file():
        pytest.skip(f"shared test video {src} is absent (set POSELIFT_SHARED or put shared/ beside the checkout)")
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with VideoWriter(out, fps=15) as w:
        for f in islice(read_frames(src), 45):
            w.write(f.image)
    return out


@pytest.fixture(scope="module")
def pipe() -> poselift.Pipeline:
    return poselift.Pipeline()


@pytest.fixture(scope="module")
def clip_result(clip, pipe) -> poselift.Result:
    return pipe(clip)


# --------------------------------------------------------------------------- import and options
def test_import_is_lazy_and_names_resolve(tmp_path):
    code = textwrap.dedent("""
        import sys, poselift
        heavy = sorted({m.split(".")[0] for m in sys.modules} & {"numpy", "torch", "cv2", "av", "scipy"})
        assert not heavy, heavy
        names = [poselift.Pipeline, poselift.Result, poselift.LiftOptions, poselift.OptionError]
        assert poselift.Pipeline.__module__ == "poselift.api" and poselift.Result.__module__ == "poselift.result"
        assert "torch" not in sys.modules
        print("ok")
    """)
    p = run_python(code, tmp_path)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def _all_stage_fields() -> set[tuple[str, str]]:
    from dataclasses import fields

    return {(s.name, f.name) for s in fields(PipelineOptions) for f in fields(s.default_factory())}


def test_defaults_live_in_the_stage_options():
    """InferOptions and the CLI's flags default to exactly the stage objects' defaults, and
    every stage field can be set from InferOptions (a lossless adapter)."""
    from dataclasses import fields

    from poselift.cli.infer_cmd import pipeline_options
    from poselift.cli.main import build_parser
    from poselift.infer import FLAT_FIELDS, InferOptions

    assert InferOptions().options() == PipelineOptions()
    job = {f.name for f in fields(InferOptions)} - set(FLAT_FIELDS)
    assert job == {"outdir", "keypoints", "progress"}
    assert set(FLAT_FIELDS.values()) == _all_stage_fields()
    args = build_parser().parse_args(["infer", "clip.mp4"])
    assert pipeline_options(args, None, None, ()) == PipelineOptions()

    custom = PipelineOptions(decode=DecodeOptions(start=2.0, fps=10), detect=DetectOptions(model="lite"),
                             track=TrackOptions(multi_person=True, max_people=None, max_gap=1.5),
                             lift=LiftOptions(fov=70, tta=False, backend="numpy", dense=False),
                             place=PlaceOptions(world=True, ground=False),
                             export=ExportOptions(formats=("bvh", "json"), bvh_smooth=False),
                             render=RenderOptions(size=240, framing="follow", limit=5))
    assert InferOptions.from_options(custom, progress=False).options() == custom


def test_auto_landmark_model_is_heavy_except_for_mediapipe():
    """``--detector-model auto`` (the default) runs heavy, or full for MediaPipe's graph
    (the only model its wheel ships); a named model is used as given."""
    from poselift.api import _make_detector

    assert DetectOptions().model == "auto" and DetectOptions().landmark_model == "heavy"
    assert DetectOptions(detector="mediapipe").landmark_model == "full"
    assert DetectOptions(model="lite", detector="mediapipe").landmark_model == "lite"
    det = _make_detector(DetectOptions(), TrackOptions())
    try:
        assert det.model == "heavy"
    finally:
        det.close()


def test_trajectory_network_is_an_option():
    """The shipped ``default`` names no trajectory network (the geometric root solve wins on
    real footage with infer's 2D); ``trajectory_model`` / ``--trajectory-model`` attaches
    one, and ``none`` forces the geometric solve."""
    from poselift.cli.infer_cmd import pipeline_options
    from poselift.cli.main import build_parser
    from poselift.lift.pipeline import load_lift_model

    assert LiftOptions().trajectory_model == "auto"
    assert LiftOptions(trajectory_model="none").trajectory_model is None
    with pytest.raises(OptionError, match="trajectory_model"):
        LiftOptions(trajectory_model="")
    assert load_lift_model(LiftOptions()).model_traj is None
    lm = load_lift_model(LiftOptions(trajectory_model="trajectory"))
    assert lm.model_traj is not None and lm.model_traj.num_joints_out == 1
    assert load_lift_model(LiftOptions(trajectory_model="trajectory"), trajectory=None).model_traj is None
    for flag, want in (("trajectory", "trajectory"), ("none", None), ("auto", "auto")):
        args = build_parser().parse_args(["infer", "clip.mp4", "--trajectory-model", flag])
        assert pipeline_options(args, None, None, ()).lift.trajectory_model == want
    args = build_parser().parse_args(["lift", "in.npz", "-o", "out.npz", "--trajectory-model", "trajectory"])
    from poselift.cli.lift_cmd import lift_options
    assert lift_options(args).trajectory_model == "trajectory"


def test_cli_flags_build_the_option_objects():
    from poselift.cli.infer_cmd import pipeline_options
    from poselift.cli.main import build_parser

    args = build_parser().parse_args(
        ["infer", "clip.mp4", "--fps", "10", "--detector-model", "heavy", "--multi-person", "--max-people", "0",
         "--max-gap", "1", "--no-tta", "--free-bones", "--fov", "70", "--world", "--viz-size", "240",
         "--viz-framing", "fixed", "--no-render", "--bvh-no-smooth", "--person", "largest"])
    o = pipeline_options(args, 2.0, 5.0, ("csv",))
    assert o.decode == DecodeOptions(2.0, 5.0, 10.0)
    assert o.detect.model == "heavy" and o.track == TrackOptions(True, "largest", None, 0.3, 1.0)
    assert (o.lift.tta, o.lift.fixed_bones, o.lift.fov, o.lift.lr_repair) == (False, False, 70.0, True)
    assert o.place.world and o.export == ExportOptions(("csv",), False, None)
    assert (o.render.enabled, o.render.size, o.render.framing) == (False, 240, "fixed")


@pytest.mark.parametrize("make, field", [
    (lambda: TrackOptions(max_gap=-1), "max_gap"),
    (lambda: TrackOptions(person="tallest"), "person"),
    (lambda: LiftOptions(fov=200), "fov"),
    (lambda: LiftOptions(focal_length=-500), "focal_length"),
    (lambda: LiftOptions(focal_length=500, fov=60), "--fov"),
    (lambda: DecodeOptions(start=3, end=2), "end"),
    (lambda: DecodeOptions(fps=0), "fps"),
    (lambda: DecodeOptions(start="1:75"), "start"),
    (lambda: RenderOptions(framing="zoom"), "framing"),
    (lambda: ExportOptions(formats="json,xml"), "xml"),
    (lambda: PipelineOptions(lift=TrackOptions()), "lift"),
])
def test_bad_options_are_refused_naming_the_field(make, field):
    with pytest.raises(OptionError) as e:
        make()
    assert isinstance(e.value, ValueError) and isinstance(e.value, poselift.PoseliftError)
    assert field in str(e.value) and "\n" not in str(e.value)


def test_option_conveniences():
    assert DecodeOptions(start="0:03", end="00:04.5") == DecodeOptions(3.0, 4.5)
    assert ExportOptions(formats="JSON, csv").formats == ("json", "csv")
    assert TrackOptions(max_people=0).max_people is None
    p = poselift.Pipeline(model="x.safetensors", multi_person=True, world=True, lift=LiftOptions(fov=60))
    o = p.options
    assert (o.lift.model, o.lift.fov, o.track.multi_person, o.place.world) == ("x.safetensors", 60.0, True, True)
    # Arguments left out keep the stage objects' values.
    q = poselift.Pipeline(lift=LiftOptions(model="y"), track=TrackOptions(multi_person=True))
    assert q.options.lift.model == "y" and q.options.track.multi_person


# --------------------------------------------------------------------------- a real video
@pytest.mark.shared
def test_video_result_is_the_npz_contract(clip, clip_result, tmp_path):
    r = clip_result
    frames = list(read_frames(clip))
    t = len(frames)
    assert t == 45 and r.poses_3d.shape == (1, t, 17, 3) and r.poses_3d.dtype == np.float32
    assert r.trajectory.shape == (1, t, 3) and r.keypoints_2d.shape == (1, t, 17, 2) and r.valid.shape == (1, t)
    assert r.valid.mean() > 0.8
    np.testing.assert_array_equal(r.frame_index, [f.index for f in frames])
    np.testing.assert_allclose(r.time_s, [f.time for f in frames])
    assert r.fps == pytest.approx(15.0) and tuple(r.image_size) == (448, 336)
    assert r.intrinsics.width == 448 and r.intrinsics.focal_px == pytest.approx(float(r.extra["focal_length"]))
    assert r.world is None and r.camera_to_world is None
    v = r.valid[0]
    np.testing.assert_allclose(r.poses_3d[0, v, 0], 0.0, atol=1e-6)  # root at the origin
    z = r.trajectory[0, v, 2]
    assert (z > 0.5).all() and (z < 30).all(), "the root is in front of the camera, metres away"

    saved = r.save(tmp_path / "new" / "deeper" / "clip.npz")  # folders are created
    back = poselift.Result.load(saved)
    for k, a in r.arrays().items():
        np.testing.assert_array_equal(back.arrays()[k], a, err_msg=k)


@pytest.mark.shared
def test_api_and_infer_cli_give_the_same_files(clip, clip_result, tmp_path):
    """``poselift infer`` runs the pipeline the API runs: its npz, JSON and CSV equal the
    API's save/export of the same video, byte for byte (the npz arrays exactly)."""
    from poselift.cli.main import main

    out = tmp_path / "cli"
    assert main(["infer", str(clip), "-o", str(out), "--no-render", "--export", "json,csv", "--no-progress"]) == 0
    api = tmp_path / "api"
    clip_result.save(api / "clip.npz")
    clip_result.export("json", api / "clip.json")
    clip_result.export("csv", api / "clip.csv")
    with np.load(out / "clip.npz") as a, np.load(api / "clip.npz") as b:
        assert list(a.files) == list(b.files)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    for ext in ("json", "csv"):
        assert (out / f"clip.{ext}").read_bytes() == (api / f"clip.{ext}").read_bytes(), ext


@pytest.mark.shared
def test_frames_iterator_equals_the_video(clip, clip_result, pipe):
    """Bare RGB frames at a given fps, or poselift's Frame objects, give the video's result."""
    bare = pipe((f.image for f in read_frames(clip)), fps=15.0)
    objs = pipe(read_frames(clip))
    for r in (bare, objs):
        np.testing.assert_array_equal(r.frame_index, clip_result.frame_index)
        np.testing.assert_allclose(r.time_s, clip_result.time_s, atol=1e-6)
        np.testing.assert_array_equal(r.valid, clip_result.valid)
        np.testing.assert_allclose(r.poses_3d, clip_result.poses_3d, atol=1e-5, equal_nan=True)
        np.testing.assert_allclose(r.trajectory, clip_result.trajectory, atol=1e-5, equal_nan=True)
    assert bare.video is None and objs.fps == pytest.approx(15.0)


def test_frames_input_errors(pipe):
    with pytest.raises(poselift.InputError, match="fps="):
        pipe([np.zeros((64, 48, 3), np.uint8)])
    with pytest.raises(poselift.InputError, match="frame 1: expected an .H, W, 3. uint8 RGB array"):
        pipe([np.zeros((64, 48, 3), np.uint8), np.zeros((64, 48), np.uint8)], fps=25)
    with pytest.raises(poselift.InputError, match="frame 1 is 40x64, the first was 48x64"):
        pipe([np.zeros((64, 48, 3), np.uint8), np.zeros((64, 40, 3), np.uint8)], fps=25)
    with pytest.raises(poselift.InputError, match="no frames"):
        pipe(iter([]), fps=25)
    with pytest.raises(TypeError, match="one .H, W, 3. frame"):
        pipe(np.zeros((64, 48, 3), np.uint8))


@pytest.mark.shared
def test_keypoint_array_lifts_like_the_video(clip_result, pipe):
    """The video run's own 2D, given back as an array, lifts to the same 3D."""
    kp = clip_result.keypoints_2d[0]  # (T, 17, 2) Human3.6M-17, NaN in invalid frames
    r = pipe(kp, layout="h36m17", image_size=clip_result.image_size, fps=clip_result.fps)
    np.testing.assert_array_equal(r.valid, clip_result.valid)
    np.testing.assert_array_equal(r.frame_index, np.arange(len(kp)))
    np.testing.assert_allclose(r.time_s, np.arange(len(kp)) / clip_result.fps)
    np.testing.assert_allclose(r.poses_3d, clip_result.poses_3d, atol=1e-4, equal_nan=True)
    # A last axis of 3 carries the scores; the same keypoints lift the same way.
    with_scores = np.concatenate([kp, np.ones(kp.shape[:2] + (1,), np.float32)], axis=-1)
    r3 = pipe(keypoints=with_scores, layout="h36m17", image_size=clip_result.image_size, fps=clip_result.fps)
    np.testing.assert_allclose(r3.poses_3d, r.poses_3d, atol=1e-6, equal_nan=True)


@pytest.mark.shared
def test_two_people_get_a_person_axis(clip_result):
    """Two candidates per frame with ``multi_person``: two tracks, P = 2 in every array, as
    in infer's npz."""
    kp = clip_result.keypoints_2d[0]
    other = kp + np.array([500.0, 20.0], np.float32)
    both = np.stack([kp, other])  # (P, T, J, 2) candidates per frame
    r = poselift.Pipeline(multi_person=True)(both, layout="h36m17", image_size=(1000, 400), fps=15.0)
    assert r.num_people == 2 and r.poses_3d.shape[:2] == (2, len(kp)) and r.valid.shape == (2, len(kp))
    left = int(np.nanmean(r.keypoints_2d[:, :, 0, 0], axis=1).argmin())
    np.testing.assert_allclose(r.keypoints_2d[left][r.valid[left]], kp[r.valid[left]], atol=1e-3)
    single = poselift.Pipeline()(both, layout="h36m17", image_size=(1000, 400), fps=15.0)
    assert single.num_people == 1


def test_keypoint_array_errors(pipe):
    with pytest.raises(poselift.InputError, match="image_size"):
        pipe(np.zeros((5, 17, 2), np.float32))
    with pytest.raises(poselift.InputError, match=r"\(T, J, 2\)"):
        pipe(np.zeros((5, 17), np.float32), image_size=(100, 100))
    with pytest.raises(poselift.InputError, match="no known keypoint layout has 12 joints"):
        pipe(np.zeros((5, 12, 2), np.float32), image_size=(100, 100))
    with pytest.raises(poselift.InputError, match="layout h36m17 has 17 joints, the keypoints 33"):
        pipe(np.zeros((5, 33, 2), np.float32), image_size=(100, 100), layout="h36m17")


@pytest.mark.shared
def test_exports_and_render(clip, clip_result, tmp_path):
    r = clip_result
    out = tmp_path / "x"
    assert r.export("bvh", out / "clip.bvh") == [out / "clip.bvh"]
    assert r.world is None, "export placed a copy, not the result"
    assert (out / "clip.bvh").read_text().startswith("HIERARCHY")
    doc = json.loads(r.export("json", out / "clip.json")[0].read_text())
    assert doc["frame_index"] == r.frame_index.tolist() and len(doc["time_s"]) == r.num_frames
    page = r.export("html", out / "clip.html")[0].read_text()
    assert "frameIndex" in page and '"world":true' in page
    with pytest.raises(poselift.PoseliftError, match="unknown export format"):
        r.export("fbx", out / "clip.fbx")
    stats = r.render(out / "clip.mp4", size=160, limit=8)
    assert stats.frames == 8 and stats.height == 160
    import av

    with av.open(str(out / "clip.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 8


@pytest.mark.shared
def test_world_option(clip, pipe):
    r = poselift.Pipeline(world=True, decode=DecodeOptions(start=1.0))(clip)
    assert r.world is not None and r.world.shape == r.poses_3d.shape and r.camera_to_world.shape == (4, 4)
    assert r.time_s[0] >= 1.0 - 1e-6 and r.frame_index[0] == 15
    v = r.valid[0]
    feet = r.world[0, v][:, [3, 6], 1]  # ankles' height above the floor
    assert 0.0 < np.median(feet.min(axis=1)) < 0.2


# --------------------------------------------------------------------------- README and torch
def _readme_api_blocks() -> str:
    text = (REPO / "README.md").read_text()
    m = re.search(r"^## Python API\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert m, "README has no '## Python API' section"
    blocks = re.findall(r"```python\n(.*?)```", m.group(1), flags=re.S)
    assert blocks, "the Python API section has no python code block"
    return "\n".join(blocks)


@pytest.mark.shared
def test_readme_python_api_example_runs_without_torch(clip, tmp_path):
    """The README's Python API code blocks, run as written in a folder holding clip.mp4 (a
    real video), in an interpreter where torch cannot be imported."""
    code = _readme_api_blocks()
    work = tmp_path / "work"
    work.mkdir()
    (work / "clip.mp4").symlink_to(clip)
    check = textwrap.dedent("""
        import sys
        assert "torch" not in sys.modules, "the API imported torch"
        print("README-OK", result.poses_3d.shape, from_frames.poses_3d.shape, from_2d.poses_3d.shape)
    """)
    p = run_python(code + "\n" + check, work, block_torch=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    assert "README-OK (1, 45, 17, 3) (1, 45, 17, 3) (1, 45, 17, 3)" in p.stdout, p.stdout
    made = sorted(f.name for f in (work / "out").iterdir())
    assert made == ["clip.bvh", "clip.csv", "clip.mp4", "clip.npz"], made


@pytest.mark.shared
def test_pipeline_without_torch(clip, tmp_path):
    """``poselift.Pipeline()(path).poses_3d`` where ``import torch`` fails."""
    code = textwrap.dedent(f"""
        try:
            import torch
            raise SystemExit("torch is importable")
        except ImportError:
            pass
        import poselift
        poses = poselift.Pipeline()({str(clip)!r}).poses_3d
        import numpy as np
        assert poses.shape == (1, 45, 17, 3) and np.isfinite(poses).any()
        assert "torch" not in sys.modules
        print("NO-TORCH-OK")
    """)
    p = run_python(code, tmp_path, block_torch=True)
    assert p.returncode == 0 and "NO-TORCH-OK" in p.stdout, p.stdout[-2000:] + p.stderr[-3000:]
