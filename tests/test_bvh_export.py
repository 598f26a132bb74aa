"""BVH export (issue 5, item 4): round trip through poselift's own BVH reader, the
``--export bvh`` option of ``poselift infer``, and continuous Euler angles."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.cli.main import main
from poselift.export.bvh import bvh_to_camera, matrices_to_zxy, write_bvh
from poselift.geometry.skeletons import H36M17
from poselift.io.bvh import euler_to_matrix, forward_kinematics, read_bvh


def _rot(axis: str, a: np.ndarray) -> np.ndarray:
    return euler_to_matrix(np.degrees(np.asarray(a, float))[:, None], axis)


def synthetic_motion(T: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """A person facing the camera 3 m away, walking sideways, turning, swinging limbs.

    Constant bone lengths, a rigid pelvis triangle and rigid thorax/neck/shoulders (as
    in a mocap skeleton). Returns root-relative poses (T, 17, 3) and the trajectory (T, 3),
    metres, camera frame.
    """
    t = np.arange(T) / 25.0
    J = {n: i for i, n in enumerate(H36M17.joint_names)}
    # Body frame, camera axes (x right, y down, z forward); the person faces -z (the camera).
    body = _rot("Y", 0.6 * np.sin(0.8 * t)) @ _rot("X", 0.15 * np.sin(1.3 * t))
    P = np.zeros((T, 17, 3))

    def place(child: str, parent: str, vec_local: np.ndarray, R: np.ndarray) -> None:
        P[:, J[child]] = P[:, J[parent]] + np.einsum("tij,tj->ti", R, np.broadcast_to(vec_local, (T, 3)))

    down, up = np.array([0.0, 1.0, 0.0]), np.array([0.0, -1.0, 0.0])
    place("right_hip", "pelvis", [-0.13, 0.0, 0.01], body)  # facing the camera: their right is image left
    place("left_hip", "pelvis", [0.13, 0.0, 0.01], body)
    place("spine", "pelvis", 0.23 * up, body)
    trunk = body @ _rot("X", 0.2 * np.sin(2 * t))
    place("thorax", "spine", 0.25 * up, trunk)
    place("neck_nose", "thorax", np.array([0.0, -0.11, -0.05]), trunk)
    place("left_shoulder", "thorax", np.array([0.15, 0.02, 0.0]), trunk)
    place("right_shoulder", "thorax", np.array([-0.15, 0.02, 0.0]), trunk)
    head = trunk @ _rot("X", 0.3 * np.sin(1.7 * t))
    place("head", "neck_nose", 0.12 * up, head)
    for side, s in (("right", 1.0), ("left", -1.0)):
        thigh = body @ _rot("X", 0.6 * s * np.sin(3 * t)) @ _rot("Z", 0.1 * s * np.ones(T))
        place(f"{side}_knee", f"{side}_hip", 0.44 * down, thigh)
        shin = thigh @ _rot("X", -0.5 - 0.5 * np.sin(3 * t + 1))
        place(f"{side}_ankle", f"{side}_knee", 0.43 * down, shin)
        sign = 1.0 if side == "left" else -1.0
        upper = trunk @ _rot("Z", sign * (1.2 + 0.4 * np.sin(2.5 * t))) @ _rot("Y", 0.7 * np.sin(1.1 * t))
        place(f"{side}_elbow", f"{side}_shoulder", 0.28 * down, upper)
        fore = upper @ _rot("X", -0.4 - 0.6 * np.sin(2 * t) ** 2) @ _rot("Y", 0.5 * np.sin(t))
        place(f"{side}_wrist", f"{side}_elbow", 0.25 * down, fore)
    traj = np.stack([0.4 * np.sin(t), 0.1 + 0.02 * np.sin(6 * t), 3.0 + 0.5 * t], -1)
    return P, traj


def reimport(path) -> np.ndarray:
    """FK of a written file as (T, 17, 3) metres, camera frame (pelvis at its root channels)."""
    b = read_bvh(path)
    pos, _ = forward_kinematics(b, position_mode="replace")
    idx = [b.names.index(n) for n in H36M17.joint_names]
    return bvh_to_camera(pos[:, idx] / 100.0)


def test_round_trip_within_1cm(tmp_path):
    poses, traj = synthetic_motion()
    out = write_bvh(tmp_path / "a.bvh", poses, traj, 25.0, smooth=False)
    got = reimport(out)
    err = np.linalg.norm(got - (poses + traj[:, None]), axis=-1)
    assert err.max() < 0.01, err.max()
    b = read_bvh(out)
    assert b.num_frames == len(poses) and abs(b.fps - 25.0) < 1e-6
    assert b.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
    assert all(c == ("Zrotation", "Xrotation", "Yrotation") for n, c in zip(b.names[1:], b.channels[1:])
               if not n.endswith("_end"))
    assert {n for n in b.names if n.endswith("_end")} == {"right_ankle_end", "left_ankle_end", "head_end",
                                                         "left_wrist_end", "right_wrist_end"}


def test_no_trajectory_feet_on_floor_metres_and_gaps(tmp_path):
    poses, _ = synthetic_motion(40)
    valid = np.ones(40, bool)
    valid[10:15] = False
    poses_gap = poses.copy()
    poses_gap[10:15] = np.nan
    out = write_bvh(tmp_path / "b.bvh", poses_gap, np.zeros((40, 3)), 25.0, valid, units="m", smooth=False)
    b = read_bvh(out)
    pos, _ = forward_kinematics(b)
    idx = [b.names.index(n) for n in H36M17.joint_names]
    pos = pos[:, idx]
    assert np.allclose(pos[:, 0, [0, 2]], 0.0)  # pelvis above the origin
    assert abs(pos[:, [3, 6], 1].min()) < 1e-4  # lowest ankle on the floor (metres)
    got = bvh_to_camera(pos)
    got = got - got[:, :1]
    assert np.abs(got[10:15] - got[9]).max() < 1e-5  # gap holds the last valid pose
    err = np.linalg.norm(got - poses, axis=-1)[valid]
    assert err.max() < 0.01


def test_smoothing_is_zero_phase(tmp_path):
    """Smoothed export stays close and has no lag: a ramp's middle is untouched."""
    poses, traj = synthetic_motion()
    got = reimport(write_bvh(tmp_path / "s.bvh", poses, traj, 25.0, smooth=True))
    err = np.linalg.norm(got - (poses + traj[:, None]), axis=-1)
    assert err.max() < 0.03
    # the trajectory's linear z ramp is reproduced without delay away from the ends
    assert np.abs(got[5:-5, 0, 2] - traj[5:-5, 2]).max() < 1e-3


def test_euler_unwrapping_spin():
    a = np.radians(np.linspace(0, 720, 200))
    for axis in ("Y", "Z", "X"):
        if axis == "X":
            R = _rot("X", a) @ _rot("Y", np.full(200, 0.3))
        else:
            R = _rot(axis, a) @ _rot("X", np.full(200, 0.2))
        e = matrices_to_zxy(R)
        assert np.abs(np.diff(e, axis=0)).max() < 10.0, axis  # steps of 3.6 degrees, no 360 jumps
        assert np.allclose(euler_to_matrix(e, "ZXY"), R, atol=1e-9)
        assert np.ptp(e, axis=0).max() > 540  # really spun past 180 degrees, continuously


def test_spinning_person_has_continuous_channels(tmp_path):
    poses, traj = synthetic_motion(100)
    spin = _rot("Y", np.radians(np.linspace(0, 540, 100)))
    poses = np.einsum("tij,tkj->tki", spin, poses)
    out = write_bvh(tmp_path / "spin.bvh", poses, traj, 25.0, smooth=False)
    b = read_bvh(out)
    assert np.abs(np.diff(b.motion[:, 3:], axis=0)).max() < 90.0
    err = np.linalg.norm(reimport(out) - (poses + traj[:, None]), axis=-1)
    assert err.max() < 0.01


def reimport_world(path) -> np.ndarray:
    """FK of a written file as (T, 17, 3) metres in the file's own axes (the world frame for ``infer``)."""
    b = read_bvh(path)
    pos, _ = forward_kinematics(b, position_mode="replace")
    return pos[:, [b.names.index(n) for n in H36M17.joint_names]] / 100.0


@pytest.mark.shared
def test_infer_export_bvh(shared, tmp_path):
    """``--export bvh`` implies the world frame; the file plays back the npz's ``poses_world``."""
    from poselift.lift.weights import list_models

    video = shared / "videos" / "taiji_seed.mp4"
    if not video.is_file():
        pytest.skip(f"shared test video {video} is absent")
    if "default" not in list_models():
        pytest.skip("no shipped 'default' model")
    assert main(["infer", str(video), "-o", str(tmp_path), "--end", "3", "--no-render", "--no-progress",
                 "--export", "bvh"]) == 0
    with np.load(tmp_path / "taiji_seed.npz") as z:
        d = {k: z[k] for k in z.files}
    v = d["valid"][0]
    assert v.any() and "poses_world" in d
    ref = d["poses_world"][0]
    got = reimport_world(tmp_path / "taiji_seed.bvh")  # smoothed by default
    assert got.shape == ref.shape
    err = np.linalg.norm(got - ref, axis=-1)[v]
    assert err.mean() < 0.01 and err.max() < 0.1
    # the camera-frame arrays are the same rigid skeleton: a camera-frame BVH reproduces them too
    cam = d["poses_3d"][0] + d["trajectory"][0][:, None]
    raw = write_bvh(tmp_path / "raw.bvh", d["poses_3d"][0], d["trajectory"][0], float(d["fps"]), v, smooth=False)
    assert np.linalg.norm(reimport(raw) - cam, axis=-1)[v].max() < 1e-3
    assert main(["infer", str(video), "-o", str(tmp_path / "ns"), "--end", "3", "--no-render", "--no-progress",
                 "--export", "bvh", "--bvh-no-smooth"]) == 0
    assert np.linalg.norm(reimport_world(tmp_path / "ns" / "taiji_seed.bvh") - ref, axis=-1)[v].max() < 1e-3
    # html implies the world too; --no-trajectory leaves nothing to place (camera-frame BVH)
    kp = str(tmp_path / "taiji_seed.npz")
    assert main(["infer", "--keypoints", kp, "-o", str(tmp_path / "h"), "--export", "html", "--no-render",
                 "--no-progress"]) == 0
    with np.load(tmp_path / "h" / "taiji_seed.npz") as z:
        assert "poses_world" in z.files
    assert main(["infer", "--keypoints", kp, "-o", str(tmp_path / "nt"), "--export", "bvh", "--no-trajectory",
                 "--no-render", "--no-progress"]) == 0
    with np.load(tmp_path / "nt" / "taiji_seed.npz") as z:
        assert "poses_world" not in z.files
    assert (tmp_path / "nt" / "taiji_seed.bvh").is_file()
