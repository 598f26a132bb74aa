"""Property-based fuzzing of every reader of user files and of the option parser (issue 13).

The contract under test, for any input at all: the reader returns a clean result or
raises exactly one :class:`~poselift.errors.PoseliftError` whose message is one line;
never another exception type, never a non-finite value passed off as valid.

Runs are deterministic (``derandomize``) so CI sees the same examples every time;
``POSELIFT_FUZZ_SCALE=10`` multiplies the number of examples for a deeper local run.
The whole file runs in well under two minutes on one loaded core.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poselift.errors import PoseliftError

SCALE = float(os.environ.get("POSELIFT_FUZZ_SCALE", "1"))


# POSELIFT_FUZZ_RANDOM=1: fresh random examples instead of CI's fixed ones.
RANDOM = bool(os.environ.get("POSELIFT_FUZZ_RANDOM"))


def fuzz(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, derandomize=not RANDOM, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


@contextlib.contextmanager
def scratch():
    with tempfile.TemporaryDirectory(prefix="poselift-fuzz-") as d:
        yield Path(d)


def outcome(fn, *args, **kw):
    """``fn(...)``'s result, or None after a one-line PoseliftError; anything else fails the test."""
    try:
        return fn(*args, **kw)
    except PoseliftError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg and "\r" not in msg, repr(msg)
        return None


# ------------------------------------------------------------------------------ values
# Numbers a careless or hostile file holds: ordinary pixels, zeros, negatives, huge,
# non-finite, and values of the wrong JSON type.
weird_floats = st.one_of(st.floats(-2000, 2000), st.sampled_from([0.0, -0.0, 1e-300, 1e32, -1e32, 1e308,
                                                                  math.inf, -math.inf, math.nan]),
                         st.floats(allow_nan=True, allow_infinity=True))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), weird_floats,
                         st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(st.text(max_size=6), inner,
                                                                                 max_size=4)), max_leaves=12)


def _keypoint_list(joints: int):
    return st.one_of(
        st.lists(weird_floats, min_size=joints * 3, max_size=joints * 3),
        st.lists(st.floats(0, 640), min_size=joints * 3, max_size=joints * 3),
        st.lists(json_scalars, max_size=joints * 3 + 3),
        json_values)


def _maybe(value_strategy, junk=json_values):
    """Mostly the well-formed value, sometimes junk of any type."""
    return st.one_of(value_strategy, value_strategy, value_strategy, junk)


coco_result = st.fixed_dictionaries(
    {"image_id": _maybe(st.integers(0, 50)), "category_id": _maybe(st.just(1)),
     "keypoints": _keypoint_list(17)},
    optional={"score": _maybe(st.floats(0, 1)), "track_id": _maybe(st.integers(0, 3))})
alphapose_result = st.fixed_dictionaries(
    {"image_id": _maybe(st.integers(0, 50).map(lambda i: f"{i}.jpg")), "keypoints": _keypoint_list(17)},
    optional={"score": _maybe(st.floats(0, 3)), "idx": _maybe(st.integers(0, 3)),
              "box": st.lists(st.floats(0, 100), max_size=4)})
coco_dataset = st.fixed_dictionaries(
    {"annotations": st.lists(coco_result, max_size=5),
     "images": st.lists(st.fixed_dictionaries(
         {"id": _maybe(st.integers(0, 50))},
         optional={"width": _maybe(st.integers(1, 4000)), "height": _maybe(st.integers(1, 4000)),
                   "file_name": _maybe(st.text(max_size=12)), "frame_id": _maybe(st.integers(0, 50))}),
         max_size=5)})
openpose_frame = st.fixed_dictionaries(
    {"people": st.lists(st.fixed_dictionaries({"pose_keypoints_2d": _keypoint_list(25)},
                                              optional={"person_id": _maybe(st.integers(-1, 3))}), max_size=3)})
keypoint_docs = st.one_of(st.lists(coco_result, max_size=6), st.lists(alphapose_result, max_size=6),
                          coco_dataset, openpose_frame, json_values)


def _check_sequence(seq) -> None:
    assert np.isfinite(seq.keypoints).all(), "non-finite keypoints in an imported sequence"
    assert np.isfinite(seq.scores).all() and (seq.scores >= 0).all() and (seq.scores <= 1).all()
    assert seq.keypoints.shape[:3] == seq.scores.shape
    if seq.image_size is not None:
        assert all(0 < v <= 65536 for v in seq.image_size)


@fuzz(250)
@given(doc=keypoint_docs, gz=st.booleans())
def test_fuzz_keypoint_json(doc, gz):
    from poselift.io.keypoints import load_keypoints

    text = json.dumps(doc, allow_nan=True).encode()
    with scratch() as d:
        p = d / ("kp.json.gz" if gz else "kp_keypoints.json")
        if gz:
            import gzip
            text = gzip.compress(text)
        p.write_bytes(text)
        seq = outcome(load_keypoints, p, fps=25.0)
        if seq is not None:
            _check_sequence(seq)
            seq.people_per_frame()


@fuzz(100)
@given(data=st.binary(max_size=300), prefix=st.sampled_from([b"", b"[", b"{\"people\": [", b"\x1f\x8b"]))
def test_fuzz_keypoint_bytes(data, prefix):
    from poselift.io.keypoints import load_keypoints

    with scratch() as d:
        p = d / "kp.json"
        p.write_bytes(prefix + data)
        seq = outcome(load_keypoints, p)
        if seq is not None:
            _check_sequence(seq)


# ------------------------------------------------------------------------------ npz
@pytest.fixture(scope="module")
def tiny_lifter(tmp_path_factory):
    """A random focal-normalised h36m17 model with receptive field 9: fast to run."""
    from poselift.lift.model import ModelConfig, TemporalModel
    from poselift.lift.weights import load_model, save_model

    cfg = ModelConfig(num_joints_in=17, in_features=2, num_joints_out=17, filter_widths=[3, 3], channels=16)
    torch.manual_seed(0)
    model = TemporalModel(17, 2, 17, [3, 3], dropout=0.0, channels=16)
    meta = {"kind": "pose", "input_layout": "h36m17", "output_layout": "h36m17", "fps": 50.0,
            "input_normalization": "focal", "licence": "test"}
    path = save_model(tmp_path_factory.mktemp("fuzzmodel") / "tiny", model.eval(), cfg, meta)
    return load_model(path)


def _check_tracks_and_lift(tracks: dict, lm) -> None:
    from poselift.lift.pipeline import lift_tracks

    for tr in tracks.values():
        assert tr.valid.any()
        kp = tr.keypoints[tr.valid]
        assert np.isfinite(kp).all(), "valid frame with non-finite keypoints"
        assert 0 < tr.width <= 65536 and 0 < tr.height <= 65536
        assert tr.fps is None or (math.isfinite(tr.fps) and tr.fps > 0)
        res = outcome(lift_tracks, lm, tr, tta=False, root_relative=True, geometric_trajectory=True)
        if res is None:
            continue
        v = res.valid
        assert np.isfinite(res.poses_3d[v]).all(), "non-finite pose marked valid"
        assert np.isfinite(res.trajectory[v]).all(), "non-finite trajectory marked valid"
        assert np.isnan(res.poses_3d[~v]).all()


def _poselift_arrays(draw_shape_t, values):
    return st.tuples(draw_shape_t, values)


kp_values = st.one_of(st.floats(0, 640), st.sampled_from([math.nan, math.inf, -math.inf, 1e32, -5.0, 0.0]))


@st.composite
def poselift_npz(draw):
    p = draw(st.integers(1, 2))
    t = draw(st.integers(0, 40))
    base = np.asarray(draw(st.lists(st.floats(20, 300), min_size=34, max_size=34)), np.float32).reshape(17, 2)
    kp = np.repeat(np.repeat(base[None, None], p, 0), t, 1) + np.arange(t, dtype=np.float32)[None, :, None, None]
    n_bad = draw(st.integers(0, 6))
    for _ in range(n_bad if t else 0):
        kp[draw(st.integers(0, p - 1)), draw(st.integers(0, t - 1)), draw(st.integers(0, 16)),
           draw(st.integers(0, 1))] = draw(kp_values)
    if draw(st.booleans()):
        kp[:] = draw(kp_values)
    arrays = {
        "keypoints_2d": kp,
        "scores_2d": np.full(kp.shape[:3], draw(st.sampled_from([0.9, 0.0, math.nan, 2.0])), np.float32),
        "valid": np.ones((p, t), bool) if draw(st.booleans()) else np.asarray(
            draw(st.lists(st.booleans(), min_size=p * t, max_size=p * t)), bool).reshape(p, t),
        "image_size": np.asarray(draw(st.sampled_from([[320, 240], [0, 240], [320, -1], [1e9, 5], [640]])),
                                 np.float64),
        "fps": np.float64(draw(st.sampled_from([25.0, 50.0, 0.0, -50.0, math.inf, math.nan, 1e9]))),
        "poses_3d": np.zeros((p, t, 17, 3), np.float32), "trajectory": np.zeros((p, t, 3), np.float32),
    }
    drop = draw(st.sampled_from([None, None, None, "scores_2d", "valid", "fps", "image_size"]))
    if drop:
        arrays.pop(drop)
    return arrays


def _read_npz_and_lift(arrays: dict, name: str, lifter) -> None:
    """Save ``arrays`` as ``name`` and read it as a keypoint file: a clean error or tracks that lift."""
    from poselift.lift.pipeline import read_tracks_file

    with scratch() as d:
        p = d / name
        np.savez(p, **arrays)
        tracks = outcome(read_tracks_file, p)
        if tracks is not None:
            _check_tracks_and_lift(tracks, lifter)


@fuzz(120)
@given(arrays=poselift_npz())
def test_fuzz_poselift_npz(arrays, tiny_lifter):
    _read_npz_and_lift(arrays, "kp.npz", tiny_lifter)


@st.composite
def vp3d_npz(draw):
    """VideoPose3D custom datasets and Detectron per-video files, with mutated fields."""
    from poselift.io.vp3d import _obj

    t = draw(st.integers(0, 12))
    kp = np.full((t, 17, 2), 100.0, np.float32) + draw(st.floats(-5, 5))
    if t and draw(st.booleans()):
        kp[draw(st.integers(0, t - 1))] = draw(kp_values)
    if draw(st.booleans()):
        w = draw(_maybe(st.integers(1, 2000)))
        meta = {"layout_name": draw(_maybe(st.just("coco"))), "num_joints": 17,
                "keypoints_symmetry": [[1, 3], [2, 4]],
                "video_metadata": draw(_maybe(st.just({"v": {"w": w, "h": draw(_maybe(st.integers(1, 2000)))}})))}
        pos = draw(_maybe(st.just({"v": {"custom": [kp]}})))
        return {"positions_2d": _obj(pos), "metadata": _obj(meta)}
    boxes, kps = [], []
    for i in range(t):
        if draw(st.booleans()):
            boxes.append([[], np.array([[0, 0, 50, 50, draw(st.floats(0, 1))]], np.float32)])
            k = np.zeros((1, 4, 17), np.float32)
            k[0, :2] = kp[i].T
            k[0, 3] = draw(st.sampled_from([0.9, math.nan, -1.0]))
            kps.append([[], k])
        else:
            boxes.append([[], np.zeros((0, 5), np.float32)])
            kps.append([[], np.zeros((0, 4, 17), np.float32)])
    meta = {"w": draw(_maybe(st.integers(1, 2000))), "h": draw(_maybe(st.integers(1, 2000)))}
    out = {"boxes": np.array(boxes + [None], dtype=object)[:-1], "keypoints": np.array(kps + [None], dtype=object)[:-1],
           "segments": np.array([None] * t, dtype=object), "metadata": _obj(meta)}
    if draw(st.booleans()):
        out["keypoints"] = _obj(draw(json_values))
    return out


@fuzz(80)
@given(arrays=vp3d_npz())
def test_fuzz_videopose3d_npz(arrays, tiny_lifter):
    _read_npz_and_lift(arrays, "data_2d_custom_x.npz", tiny_lifter)


def _valid_npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, keypoints_2d=np.full((1, 12, 17, 2), 50.0, np.float32),
                        scores_2d=np.ones((1, 12, 17), np.float32), valid=np.ones((1, 12), bool),
                        image_size=np.array([320, 240]), fps=np.float64(25), poses_3d=np.zeros((1, 12, 17, 3)),
                        trajectory=np.zeros((1, 12, 3)))
    return buf.getvalue()


VALID_NPZ = _valid_npz_bytes()


@fuzz(150)
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID_NPZ) - 1), st.integers(0, 255)), max_size=6),
       cut=st.one_of(st.none(), st.integers(0, len(VALID_NPZ))))
def test_fuzz_npz_bytes(edits, cut):
    """Byte flips and truncations of a valid npz: zip structure, npy headers, data."""
    from poselift.lift.pipeline import read_tracks_file

    b = bytearray(VALID_NPZ)
    for pos, val in edits:
        b[pos] = val
    if cut is not None:
        b = b[:cut]
    with scratch() as d:
        p = d / "kp.npz"
        p.write_bytes(bytes(b))
        tracks = outcome(read_tracks_file, p)
        if tracks is not None:
            for tr in tracks.values():
                assert np.isfinite(tr.keypoints[tr.valid]).all()


@fuzz(60)
@given(shape=st.lists(st.integers(0, 2**40), min_size=1, max_size=4),
       dtype=st.sampled_from(["<f4", "<f8", "|b1", "<i8", "|O"]), fortran=st.booleans(),
       payload=st.binary(max_size=64))
def test_fuzz_npy_headers(shape, dtype, fortran, payload):
    """Hand-written npy headers that declare any shape over a few bytes of data: refused
    in one line before anything of the declared size is allocated."""
    from poselift.io.safe_npz import load_npz

    header = {"descr": dtype, "fortran_order": fortran, "shape": tuple(shape)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    npy = buf.getvalue() + payload  # the header writer adds the magic
    with scratch() as d:
        p = d / "x.npz"
        with zipfile.ZipFile(p, "w") as zf:
            zf.writestr("keypoints_2d.npy", npy)
        outcome(load_npz, p)


# ------------------------------------------------------------------------------ BVH
@st.composite
def bvh_text(draw):
    joints = draw(st.integers(1, 4))
    chans = draw(st.sampled_from(["6 Xposition Yposition Zposition Zrotation Xrotation Yrotation",
                                  "3 Zrotation Xrotation Yrotation", "3 Xposition Yposition Zposition",
                                  "0", "2 Zrotation Xrotation Yrotation", "3 Zrotation Qrotation Yrotation"]))
    n_chan = int(chans.split()[0])
    lines = ["HIERARCHY", "ROOT Hips", "{", f"  OFFSET {draw(weird_floats)!r} 0 0",
             "  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"]
    for j in range(1, joints):
        lines += [f"JOINT J{j}", "{", "  OFFSET 0 10 0", f"  CHANNELS {chans}"]
    lines += ["End Site", "{", "OFFSET 0 5 0", "}"] + ["}"] * joints
    frames = draw(st.integers(0, 6))
    declared = draw(st.one_of(st.just(frames), st.integers(0, 10**12)))
    ft = draw(st.one_of(st.just("0.0333333"), st.sampled_from(["0", "-1", "1e-9", "1e9", "nan", "inf", "x"]),
                        weird_floats.map(repr)))
    lines += ["MOTION", f"Frames: {declared}", f"Frame Time: {ft}"]
    per = 6 + (joints - 1) * max(n_chan, 0)
    for _ in range(frames):
        lines.append(" ".join(repr(draw(st.one_of(st.floats(-180, 180), weird_floats))) for _ in range(per)))
    text = "\n".join(lines) + "\n"
    if draw(st.booleans()):
        text = text[:draw(st.integers(0, len(text)))]
    return text


@fuzz(200)
@given(text=bvh_text())
def test_fuzz_bvh(text):
    from poselift.io.bvh import forward_kinematics, parse_bvh

    bvh = outcome(parse_bvh, text, "fuzz.bvh")
    if bvh is None:
        return
    assert 1e-4 <= bvh.frame_time <= 10.0
    assert np.isfinite(bvh.motion).all()
    pos, rot = forward_kinematics(bvh)
    assert np.isfinite(pos).all() or not np.isfinite(bvh.offsets).all()


@fuzz(60)
@given(text=bvh_text(), fps=st.sampled_from([0.0, 50.0, 120.0]))
def test_fuzz_bvh_import(text, fps):
    """The ``data import`` path (skeleton mapping, resampling) on mutated files."""
    from poselift.io.mocap import load_mocap_file

    with scratch() as d:
        p = d / "clip.bvh"
        p.write_text(text)
        clips = outcome(load_mocap_file, p, fps, cache=False)
        for c in clips or []:
            assert np.isfinite(c.positions).all()


# ------------------------------------------------------------------------------ model cards
@pytest.fixture(scope="module")
def tiny_state():
    from poselift.lift.model import ModelConfig, build_model

    cfg = ModelConfig(num_joints_in=17, in_features=2, num_joints_out=17, filter_widths=[3, 3], channels=16)
    return cfg.to_dict(), {k: v.contiguous() for k, v in build_model(cfg).state_dict().items()}


card_fields = {
    "kind": st.sampled_from(["pose", "trajectory", "banana"]),
    "input_layout": st.sampled_from(["h36m17", "coco17", "nope", ""]),
    "output_layout": st.sampled_from(["h36m17", "root", "x"]),
    "fps": st.one_of(st.sampled_from([50, 50.0, 0, -50, "fast", None, 1e308, True]), weird_floats),
    "input_normalization": st.sampled_from(["screen", "focal", "focal_scaled", "magic", 3]),
    "trajectory_parameterization": st.sampled_from(["direct", "ray_logdepth", "ray_logsize", "x"]),
}


@st.composite
def model_cards(draw, arch):
    card = {"kind": "pose", "input_layout": "h36m17", "output_layout": "h36m17", "fps": 50.0,
            "input_normalization": "focal", "licence": "test", "architecture": dict(arch)}
    for key in draw(st.lists(st.sampled_from(sorted(card_fields) + ["architecture"]), max_size=3, unique=True)):
        if key == "architecture":
            sub = draw(st.sampled_from(["channels", "filter_widths", "num_joints_in", "dropout", "causal", "dense"]))
            card["architecture"][sub] = draw(st.one_of(json_values, st.integers(-2, 10**9),
                                                       st.lists(st.integers(-3, 99), max_size=14)))
        else:
            card[key] = draw(st.one_of(card_fields[key], json_values))
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)  # not even an object
    return card


@fuzz(120)
@given(data=st.data())
def test_fuzz_model_card(data, tiny_state):
    from safetensors.torch import save_file

    from poselift.lift.pipeline import Tracks2D, lift_tracks
    from poselift.lift.weights import METADATA_KEY, load_model

    arch, state = tiny_state
    card = data.draw(model_cards(arch))
    with scratch() as d:
        p = d / "m.safetensors"
        save_file(state, str(p), metadata={METADATA_KEY: json.dumps(card, allow_nan=True)})
        lm = outcome(load_model, p)
        if lm is None:
            return
        assert math.isfinite(lm.fps) and lm.fps > 0
        kp = np.full((1, 20, 17, 2), 120.0, np.float32) + np.random.default_rng(0).normal(0, 5, (1, 20, 17, 2))
        tr = Tracks2D(kp.astype(np.float32), np.ones((1, 20, 17), np.float32), np.ones((1, 20), bool), "h36m17",
                      320, 240, 25.0)
        res = outcome(lift_tracks, lm, tr, tta=False)
        if res is not None:
            assert np.isfinite(res.poses_3d[res.valid]).all()


# ------------------------------------------------------------------------------ options
OPTION_VALUES = st.one_of(st.sampled_from(["0", "-1", "-5", "-500", "200", "nan", "inf", "-inf", "1e309", "abc", "",
                                           "0.5", "3", "30", "1e-9", "5"]),
                          st.text(max_size=6), st.integers(-10**6, 10**6).map(str), weird_floats.map(repr))
NUMERIC_OPTIONS = {
    "infer": ["--focal-length", "--fov", "--max-gap", "--score-threshold", "--viz-size", "--viz-downsample",
              "--viz-skip", "--viz-limit", "--viz-bitrate", "--workers", "--fps", "--max-people"],
    "lift": ["--focal-length", "--fov"],
    "train": ["-e", "-ch", "-b", "--chunk", "--epoch-size", "--fps", "-lr", "--subset", "--downsample", "-drop"],
    "evaluate": ["--fps", "--downsample", "--focal-length"],
}
RANGES = {"focal_length": (0, 1e7, True), "fov": (1, 170, False), "max_gap": (0, math.inf, False),
          "score_threshold": (0, 1, False), "viz_size": (16, 8192, False), "viz_downsample": (1, math.inf, False),
          "viz_skip": (0, math.inf, False), "viz_bitrate": (1, 1e6, False), "workers": (1, 64, False),
          "fps": (0, 10000, True), "epochs": (1, math.inf, False), "channels": (1, 8192, False),
          "batch_size": (1, math.inf, False), "chunk": (1, math.inf, False), "learning_rate": (0, math.inf, True)}


@fuzz(300)
@given(cmd=st.sampled_from(sorted(NUMERIC_OPTIONS)), data=st.data())
def test_fuzz_option_parser(cmd, data):
    from poselift.cli.main import build_parser

    opts = data.draw(st.lists(st.sampled_from(NUMERIC_OPTIONS[cmd]), min_size=1, max_size=3))
    argv = [cmd] + (["in.npz", "-o", "out.npz"] if cmd == "lift" else ["-o", "m.safetensors"] if cmd == "train"
                    else [])
    for o in opts:
        argv += [o, data.draw(OPTION_VALUES)]
    if data.draw(st.booleans()):
        argv.append(data.draw(st.text(max_size=5)))
    buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(buf), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser().parse_args(argv)
    except SystemExit as exc:
        err = buf.getvalue()
        assert exc.code == 2
        assert err.count("\n") == 1 and err.endswith("--help)\n"), repr(err)
        return
    for key, (lo, hi, open_lo) in RANGES.items():
        v = getattr(args, key, None)
        if v is None or isinstance(v, bool):
            continue
        assert math.isfinite(v) and (v > lo if open_lo else v >= lo) and v <= hi, (key, v)
