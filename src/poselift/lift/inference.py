"""Run a lifting model on whole 2D keypoint sequences.

The arithmetic is VideoPose3D's: keypoints are normalised to screen coordinates, the
sequence is edge-padded by half the receptive field on each side (all of it on the
left for a causal model) so the output has one 3D pose per input frame, and test-time
augmentation averages the prediction of the sequence with that of its mirror image
(x negated and left/right joints swapped, then mirrored back).
"""

from __future__ import annotations

import numpy as np
import torch

from poselift.geometry.cameras import normalize_screen_coordinates
from poselift.geometry.skeletons import get_skeleton
from poselift.lift.model import TemporalModel
from poselift.lift.weights import LiftModel

# Output frames per forward pass; bounds memory on very long sequences.
_CHUNK = 4096
# Temporal smoothing (Gaussian sigma, frames at the model's rate) of the geometric root.
_TRAJ_SMOOTH_FRAMES = 2.0


def decode_trajectory(raw, root_rays):
    """Network output -> root position, for trajectory models of the ``ray_logdepth`` kind.

    Depth is far easier to learn as a log (it is inversely proportional to the person's
    2D size) and the root's direction is already known from its 2D ray, so the network
    predicts ``(dx, dy, log z)``: ``root = exp(log z) * (u + dx, v + dy, 1)`` where
    ``(u, v)`` is the root joint's focal-normalised ray.

    Args:
        raw: ``(..., 3)`` network outputs (NumPy or torch).
        root_rays: ``(..., 2)`` focal-normalised 2D of the root joint, same frames.
    Returns:
        ``(..., 3)`` metres, camera frame.
    """
    if isinstance(raw, torch.Tensor):
        z = torch.exp(raw[..., 2:3].clamp(-3.0, 5.0))
        return torch.cat([z * (root_rays + raw[..., :2]), z], dim=-1)
    z = np.exp(np.clip(raw[..., 2:3], -3.0, 5.0))
    return np.concatenate([z * (root_rays + raw[..., :2]), z], axis=-1)


def normalize_input(keypoints_px: np.ndarray, width: int, height: int, mode: str = "screen",
                    focal_px: float | None = None, center_px: tuple[float, float] | None = None) -> np.ndarray:
    """Pixels ``(..., J, 2)`` -> the network's input units.

    ``screen``: VideoPose3D's ``x / w * 2 - [1, h / w]``. ``focal``: ``(x - c) / f``, i.e.
    normalised camera rays, which removes the lens from the input.
    """
    kp = np.asarray(keypoints_px, dtype=np.float32)
    if mode == "screen":
        return normalize_screen_coordinates(kp, w=width, h=height).astype(np.float32)
    if mode == "focal":
        if focal_px is None:
            raise ValueError("focal normalisation needs a focal length")
        c = np.asarray(center_px if center_px is not None else (width / 2, height / 2), dtype=np.float32)
        return ((kp - c) / float(focal_px)).astype(np.float32)
    raise ValueError(f"unknown input normalisation {mode!r}")


@torch.no_grad()
def run_network(model: TemporalModel, x: np.ndarray, flip_perm_in: np.ndarray | None = None,
                flip_perm_out: np.ndarray | None = None, tta: bool = False, causal: bool = False,
                negate_x_out: bool = True) -> np.ndarray:
    """Predict one output per input frame.

    Args:
        model: a :class:`TemporalModel` in eval mode.
        x: ``(T, J_in, F)`` normalised keypoints.
        flip_perm_in / flip_perm_out: left/right swap permutations for TTA.
        tta: average with the mirrored sequence.
        causal: pad on the left only (the model must have been built causal).
        negate_x_out: mirror the flipped prediction's x back (true for poses and root
            trajectories alike: both live in the camera frame).
    Returns:
        ``(T, J_out, 3)`` float32.
    """
    if x.ndim != 3:
        raise ValueError(f"expected (T, J, F) keypoints, got shape {x.shape}")
    model.eval()
    pad = (model.receptive_field() - 1) // 2
    shift = model.total_causal_shift() if causal else 0
    xp = np.pad(x, ((pad + shift, pad - shift), (0, 0), (0, 0)), mode="edge")
    batch = [xp]
    if tta:
        if flip_perm_in is None or flip_perm_out is None:
            raise ValueError("test-time augmentation needs the left/right permutations")
        f = xp[:, flip_perm_in].copy()
        f[..., 0] *= -1
        batch.append(f)
    inp = torch.from_numpy(np.ascontiguousarray(np.stack(batch))).float()
    t = x.shape[0]
    rf = 2 * pad
    outs = []
    for s in range(0, t, _CHUNK):
        e = min(t, s + _CHUNK)
        outs.append(model(inp[:, s: e + rf]))
    y = torch.cat(outs, dim=1).numpy()
    if tta:
        y[1, ..., 0] *= -1 if negate_x_out else 1
        y[1] = y[1][:, flip_perm_out]
        return y.mean(axis=0).astype(np.float32)
    return y[0].astype(np.float32)


def lift_sequence(lm: LiftModel, keypoints_px: np.ndarray, width: int, height: int, *,
                  tta: bool = True, focal_px: float | None = None,
                  center_px: tuple[float, float] | None = None,
                  geometric_trajectory: bool = False) -> dict[str, np.ndarray]:
    """Lift one person's 2D sequence to 3D.

    Args:
        lm: loaded model (its ``input_layout`` must match the keypoints).
        keypoints_px: ``(T, J_in, 2)`` pixels in ``lm.input_layout``.
        width, height: image size in pixels.
        tta: test-time flip augmentation.
        focal_px, center_px: camera intrinsics, used by ``focal``-normalised models and
            to scale a trajectory; defaults to a centred principal point.
    Returns:
        ``poses_3d`` ``(T, J_out, 3)`` metres, camera frame, exactly the network's output
        (VideoPose3D's prediction; the root is near but not exactly at the origin), and
        ``trajectory`` ``(T, 3)`` metres when the model has a trajectory network, or,
        with ``geometric_trajectory`` and a focal length, the root position that makes
        the predicted pose project onto the 2D keypoints.
    """
    kp = np.asarray(keypoints_px, dtype=np.float32)
    skel_in = get_skeleton(lm.input_layout)
    if kp.ndim != 3 or kp.shape[1] != skel_in.num_joints or kp.shape[2] != 2:
        raise ValueError(f"model expects ({skel_in.num_joints} joints, 2) per frame in layout "
                         f"{skel_in.name}, got keypoints of shape {kp.shape}")
    x = normalize_input(kp, width, height, lm.input_normalization, focal_px, center_px)
    perm_in = skel_in.flip_permutation()
    try:
        perm_out = get_skeleton(lm.output_layout).flip_permutation()
    except KeyError:
        perm_out = None
    out = {"poses_3d": run_network(lm.model_pos, x, perm_in, perm_out, tta and perm_out is not None, lm.causal)}
    if lm.model_traj is not None:
        traj = run_network(lm.model_traj, x, perm_in, np.zeros(1, dtype=int), tta, lm.causal)[:, 0]
        if lm.extra.get("trajectory_parameterization") == "ray_logdepth":
            # Averaging (dx, dy, log z) over TTA then decoding with the unflipped ray is
            # consistent: flipping negates u and dx alike.
            traj = decode_trajectory(traj, x[:, 0, :2])
        out["trajectory"] = traj
    elif geometric_trajectory and focal_px:
        out["trajectory"] = _geometric_trajectory(lm, kp, out["poses_3d"], width, height, focal_px, center_px)
    return out


def _geometric_trajectory(lm: LiftModel, kp_px: np.ndarray, poses: np.ndarray, width: int, height: int,
                          focal_px: float, center_px: tuple[float, float] | None) -> np.ndarray:
    """Root position from the predicted pose's metric size and the 2D keypoints
    (see :func:`poselift.geometry.cameras.solve_root_translation`)."""
    from poselift.geometry.cameras import solve_root_translation
    from poselift.geometry.skeletons import convert

    from scipy.ndimage import gaussian_filter1d

    kp = kp_px if lm.input_layout == lm.output_layout else convert(kp_px, lm.input_layout, lm.output_layout)
    c = np.asarray(center_px if center_px is not None else (width / 2, height / 2), dtype=np.float64)
    rays = (kp - c) / float(focal_px)
    root = solve_root_translation(poses - poses[:, :1], rays)
    # Per-frame solves jitter in depth (a 1 % scale wobble is 5 cm at 5 m); a centred,
    # zero-phase Gaussian of 2 frames removes it without lagging the motion.
    if len(root) > 2:
        root = gaussian_filter1d(root, sigma=_TRAJ_SMOOTH_FRAMES, axis=0, mode="nearest")
    return root.astype(np.float32)
