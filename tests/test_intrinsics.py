"""The same motion filmed through a wide and a long lens lifts to the same poses when
the focal length is given (issue: camera intrinsics)."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.data.synth import VirtualCamera, look_at
from poselift.geometry.cameras import focal_from_35mm
from poselift.geometry.metrics import p_mpjpe
from poselift.lift.pipeline import Tracks2D, lift_tracks
from poselift.lift.weights import list_models, load_model

W, H = 1920, 1080
BASE = np.array([[0, 0, 0.95], [-0.12, 0, 0.95], [-0.12, 0.02, 0.5], [-0.12, 0, 0.08], [0.12, 0, 0.95],
                 [0.12, 0.02, 0.5], [0.12, 0, 0.08], [0, 0, 1.2], [0, 0, 1.45], [0, -0.05, 1.55], [0, 0, 1.7],
                 [0.18, 0, 1.45], [0.2, 0, 1.15], [0.22, 0, 0.9], [-0.18, 0, 1.45], [-0.2, 0, 1.15],
                 [-0.22, 0, 0.9]])


def _motion(t: int = 150) -> np.ndarray:
    """Arms and legs swinging, the body turning slowly; Z-up metres, facing -y."""
    ph = np.linspace(0, 6 * np.pi, t)
    pos = np.repeat(BASE[None], t, axis=0).copy()
    for j, amp in ((13, 0.3), (16, -0.3), (12, 0.12), (15, -0.12), (3, 0.2), (6, -0.2), (2, 0.08), (5, -0.08)):
        pos[:, j, 1] += amp * np.sin(ph)
    pos[:, [12, 13], 2] += 0.15 * (1 + np.sin(ph / 2))[:, None]
    yaw = np.linspace(-0.6, 0.6, t)
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x, y = pos[..., 0].copy(), pos[..., 1].copy()
    pos[..., 0], pos[..., 1] = c * x - s * y, s * x + c * y
    return pos


def _film(motion: np.ndarray, f35: float) -> tuple[np.ndarray, float]:
    """Pixels of the motion through a lens, from a distance where the person is 70 % of the frame."""
    f = focal_from_35mm(f35, W, H)
    dist = f * 1.7 / (0.7 * H)
    eye = np.array([0.0, -dist, 1.3])
    cam = VirtualCamera(R=look_at(eye, np.array([0.0, 0.0, 0.9])), C=eye, f=f, c=np.array([W / 2, H / 2]),
                        width=W, height=H)
    return cam.project(cam.to_camera(motion)), f


def _lift(lm, kp: np.ndarray, focal: float | None) -> np.ndarray:
    t = len(kp)
    tracks = Tracks2D(kp[None].astype(np.float32), np.ones((1, t, 17), np.float32), np.ones((1, t), bool),
                      "h36m17", W, H, fps=50.0)
    return lift_tracks(lm, tracks, focal_px=focal).poses_3d[0]


@pytest.mark.skipif("default" not in list_models(), reason="no shipped 'default' model in this installation")
def test_wide_and_long_lens_agree_when_focal_is_given():
    lm = load_model("default")
    motion = _motion()
    kp_wide, f_wide = _film(motion, 25.0)
    kp_tele, f_tele = _film(motion, 100.0)
    wide, tele = _lift(lm, kp_wide, f_wide), _lift(lm, kp_tele, f_tele)
    right = p_mpjpe(tele, wide) * 1000
    # Without the option both clips are read as a 26 mm-equivalent phone lens.
    wrong = p_mpjpe(_lift(lm, kp_tele, None), _lift(lm, kp_wide, None)) * 1000
    truth = motion - motion[:, :1]
    err_wide, err_tele = p_mpjpe(wide, truth) * 1000, p_mpjpe(tele, truth) * 1000
    print(f"P2 between 25 mm and 100 mm lifts: {right:.1f} mm with the focal length, {wrong:.1f} mm without; "
          f"P2 to the truth: {err_wide:.1f} mm (25 mm), {err_tele:.1f} mm (100 mm)")
    assert right < 25.0
    # Both are good poses, not merely equally wrong ones.
    assert err_wide < 80.0 and err_tele < 80.0
