"""Write the committed corpus of bad input files, tests/data/bad/, and its MANIFEST.json.

Each file breaks one rule a careless or hostile user's file breaks (issue 13); the
manifest says which reader takes it and a piece of the one-line message it must get.
tests/test_bad_corpus.py feeds every file to its reader. Re-run after changing a case:

    python tests/make_bad_corpus.py
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "data" / "bad"
FIXED_TIME = (2026, 1, 1, 0, 0, 0)  # zip members get a fixed date so reruns give the same bytes

BVH_HEAD = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
"""


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(v), allow_pickle=True)
            zf.writestr(zipfile.ZipInfo(f"{k}.npy", FIXED_TIME), member.getvalue(), zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _poselift(t: int = 20, **over) -> dict[str, np.ndarray]:
    kp = np.full((1, t, 17, 2), 100.0, np.float32) + np.arange(17, dtype=np.float32)[None, None, :, None]
    d = {"poses_3d": np.zeros((1, t, 17, 3), np.float32), "trajectory": np.zeros((1, t, 3), np.float32),
         "keypoints_2d": kp, "scores_2d": np.ones((1, t, 17), np.float32), "valid": np.ones((1, t), bool),
         "fps": np.float64(25.0), "image_size": np.array([320, 240], np.int64)}
    d.update(over)
    return d


class _Hostile:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


def _lying_size_npz() -> bytes:
    """A 1 KiB npz whose zip directory says its member unpacks to 3.75 GiB."""
    raw = bytearray(_npz({"keypoints_2d": np.zeros(10, np.float32)}))
    cd = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, cd + 24, 0xF0000000)  # central directory: uncompressed size
    return bytes(raw)


def _declared_bomb_npz() -> bytes:
    """A tiny npy whose header declares a (100000, 100000, 17, 2) float32 array."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (100000, 100000, 17, 2)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("keypoints_2d.npy", FIXED_TIME), header.getvalue() + b"\0" * 64)
    return buf.getvalue()


def _card_model(card_over: dict, arch_over: dict | None = None) -> bytes:
    import torch
    from safetensors.torch import save

    from poselift.lift.model import ModelConfig, build_model

    cfg = ModelConfig(num_joints_in=17, in_features=2, num_joints_out=17, filter_widths=[3], channels=8)
    torch.manual_seed(0)  # the same bytes on every run
    state = {k: v.contiguous() for k, v in build_model(cfg).state_dict().items()}
    card = {"kind": "pose", "input_layout": "h36m17", "output_layout": "h36m17", "fps": 50.0,
            "input_normalization": "focal", "licence": "test", "architecture": cfg.to_dict()}
    card.update(card_over)
    card["architecture"].update(arch_over or {})
    return save(state, metadata={"poselift": json.dumps(card)})


def _legacy_checkpoint() -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"model_pos": {}}, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def cases() -> dict[str, tuple[str, str, bytes]]:
    """``name -> (reader, expected message part, content)``."""
    coco = lambda **kw: [dict({"image_id": 0, "category_id": 1, "keypoints": [100.0, 100.0, 0.9] * 17,  # noqa: E731
                               "score": 0.9}, **kw)]
    c: dict[str, tuple[str, str, bytes]] = {
        # --- npz (poselift lift / infer --keypoints)
        "all_nan.npz": ("tracks", "no frame has all", _npz(_poselift(keypoints_2d=np.full((1, 20, 17, 2), np.nan,
                                                                                         np.float32)))),
        "inf_keypoints.npz": ("tracks", "infinite", _npz(_poselift(keypoints_2d=np.full((1, 20, 17, 2), np.inf,
                                                                                       np.float32)))),
        "image_size_zero.npz": ("tracks", "image_size", _npz(_poselift(image_size=np.array([0, 0])))),
        "empty_t0.npz": ("tracks", "no frames", _npz(_poselift(t=0))),
        "far_keypoints_1e32.npz": ("tracks", "far outside", _npz(_poselift(
            keypoints_2d=np.full((1, 20, 17, 2), 1e32, np.float32)))),
        "fps_inf.npz": ("tracks", "fps", _npz(_poselift(fps=np.float64(np.inf)))),
        "fps_negative.npz": ("tracks", "fps", _npz(_poselift(fps=np.float64(-50)))),
        "declared_1e11_floats.npz": ("tracks", "refusing to load", _declared_bomb_npz()),
        "lying_zip_size.npz": ("tracks", "refusing to load", _lying_size_npz()),
        "truncated.npz": ("tracks", "not a readable", _npz(_poselift())[:400]),
        "not_a_zip.npz": ("tracks", "not a readable", b"this is not an npz file\n"),
        "hostile_pickle.npz": ("tracks", "refusing to load", _npz({"positions_2d": np.array(
            _Hostile(), dtype=object)})),
        # --- keypoint JSON (infer --keypoints)
        "empty.json": ("keypoints", "empty", b""),
        "deep_nesting.json": ("keypoints", "nested too deeply", b"[" * 5000 + b"]" * 5000),
        "truncated.json": ("keypoints", "not valid JSON", json.dumps(coco()).encode()[:60]),
        "bad_gzip.json.gz": ("keypoints", "corrupt gzip", b"\x1f\x8b\x08\x00garbage"),
        "coco_score_text.json": ("keypoints", "score must be a number", json.dumps(coco(score="high")).encode()),
        "coco_keypoint_1e32.json": ("keypoints", "outside any image", json.dumps(coco(
            keypoints=[1e32, 100.0, 0.9] * 17)).encode()),
        "coco_track_id_nan.json": ("keypoints", "track_id", json.dumps(coco(track_id=float("nan"))).encode()),
        "coco_width_zero.json": ("keypoints", "image size", json.dumps({
            "images": [{"id": 0, "width": 0, "height": 240}],
            "annotations": [{"image_id": 0, "category_id": 1, "keypoints": [100, 100, 2] * 17}]}).encode()),
        "openpose_person_id_text_keypoints.json": ("keypoints", "person_id", json.dumps({"people": [
            {"person_id": "x", "pose_keypoints_2d": [100.0, 100.0, 0.9] * 25}]}).encode()),
        "alphapose_keypoints_text.json": ("keypoints", "keypoints must be numbers", json.dumps([
            {"image_id": "0.jpg", "keypoints": ["a", "b", "c"] * 17}]).encode()),
        # --- BVH (data import)
        "frame_time_1e-9.bvh": ("bvh", "Frame Time", (BVH_HEAD + "Frames: 2\nFrame Time: 1e-9\n"
                                                      + "0 0 0 0 0 0 0 0 0\n" * 2).encode()),
        "frame_time_1e6.bvh": ("bvh", "Frame Time", (BVH_HEAD + "Frames: 2\nFrame Time: 1e6\n"
                                                     + "0 0 0 0 0 0 0 0 0\n" * 2).encode()),
        "frame_time_zero.bvh": ("bvh", "Frame Time", (BVH_HEAD + "Frames: 1\nFrame Time: 0\n0 0 0 0 0 0 0 0 0\n"
                                                      ).encode()),
        "nan_motion.bvh": ("bvh", "NaN", (BVH_HEAD + "Frames: 1\nFrame Time: 0.04\n0 0 nan 0 0 0 0 0 0\n").encode()),
        "truncated_hierarchy.bvh": ("bvh", "HIERARCHY", BVH_HEAD[:120].encode() + b"\nMOTION\nFrames: 0\n"
                                                                                   b"Frame Time: 0.04\n"),
        "extra_frames.bvh": ("bvh", "header says", (BVH_HEAD + "Frames: 1\nFrame Time: 0.04\n"
                                                    + "0 0 0 0 0 0 0 0 0\n" * 3).encode()),
        "unknown_skeleton.bvh": ("mocap", "unknown BVH skeleton", (BVH_HEAD + "Frames: 2\nFrame Time: 0.04\n"
                                                                   + "0 0 0 0 0 0 0 0 0\n" * 2).encode()),
        "not_bvh.bvh": ("bvh", "MOTION", b"just text\n"),
        # --- model files
        "card_fps_text.safetensors": ("model", "fps", _card_model({"fps": "fast"})),
        "card_fps_zero.safetensors": ("model", "fps", _card_model({"fps": 0})),
        "card_fps_negative.safetensors": ("model", "fps", _card_model({"fps": -50})),
        "card_layout_unknown.safetensors": ("model", "input_layout", _card_model({"input_layout": "mpii16"})),
        "card_normalization_unknown.safetensors": ("model", "input_normalization",
                                                   _card_model({"input_normalization": "pixels"})),
        "card_channels_huge.safetensors": ("model", "architecture.channels", _card_model({}, {"channels": 10**9})),
        "legacy_checkpoint.bin": ("model", "does not fit a VideoPose3D temporal model", _legacy_checkpoint()),
    }
    return c


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, (reader, expect, content) in sorted(cases().items()):
        (OUT / name).write_bytes(content)
        manifest[name] = {"reader": reader, "expect": expect}
    (OUT / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(manifest)} files to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    sys.exit(main())
