"""Run a lifting model on whole 2D keypoint sequences.

The arithmetic is VideoPose3D's: keypoints are normalised to screen coordinates, the
sequence is edge-padded by half the receptive field on each side (all of it on the
left for a causal model) so the output has one 3D pose per input frame, and test-time
augmentation averages the prediction of the sequence with that of its mirror image
(x negated and left/right joints swapped, then mirrored back).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poselift.geometry.cameras import normalize_screen_coordinates
from poselift.geometry.skeletons import get_skeleton
from poselift.lift.numpy_backend import NumpyTemporalModel
from poselift.lift.weights import LiftModel, Network

# Output frames per forward pass; bounds memory on very long sequences.
_CHUNK = 4096
# Temporal smoothing (Gaussian sigma, frames at the model's rate) of the geometric root.
_TRAJ_SMOOTH_FRAMES = 2.0

#: Where the 2D keypoints sit on the body -> the value of a network's keypoint-definition
#: input channel (``poselift train --keypoint-definition-input``). ``detector``: where a
#: 2D detector trained on annotators' clicks puts them (BlazePose, COCO-style detectors;
#: see :mod:`poselift.data.keypoint_style`); ``joint-centres``: mocap joint centres
#: projected to the image (Human3.6M's ground-truth 2D, keypoints made from mocap).
KEYPOINT_DEFINITIONS: dict[str, float] = {"joint-centres": 0.0, "detector": 1.0}


def network_input(net: Network, x: np.ndarray, keypoint_definition: str = "detector") -> np.ndarray:
    """``x`` ``(..., J, F)`` as ``net`` takes it: unchanged, or with the keypoint-definition
    channel appended when the network has one more input feature than ``x`` (models
    trained with ``--keypoint-definition-input``).

    Why a channel: the detector's keypoints and mocap joint centres differ systematically
    (the detector's hips sit higher and closer together, its head on the face). A network
    trained on a mix of both without being told which it sees learns a compromise that
    fits neither; told, it serves both.
    """
    if keypoint_definition not in KEYPOINT_DEFINITIONS:
        raise ValueError(f"unknown keypoint definition {keypoint_definition!r} "
                         f"({', '.join(KEYPOINT_DEFINITIONS)})")
    need = int(net.in_features)
    if x.shape[-1] == need:
        return x
    if x.shape[-1] + 1 != need:
        raise ValueError(f"the network takes {need} features per joint, the input has {x.shape[-1]}")
    flag = np.full(x.shape[:-1] + (1,), KEYPOINT_DEFINITIONS[keypoint_definition], dtype=x.dtype)
    return np.concatenate([x, flag], axis=-1)


def decode_trajectory(raw, root_rays, scale=None):
    """Network output -> root position in the camera frame, metres.

    Two parameterisations exist; both use the root joint's focal-normalised ray
    ``(u, v)`` because the root's direction is already known from its 2D position:

    * ``ray_logdepth`` (``scale is None``): the network predicts ``(dx, dy, log z)``
      and ``root = z * (u + dx, v + dy, 1)``.
    * ``ray_logsize`` (``scale`` given, for ``focal_scaled`` input): the network sees
      the person at a normalised size and so predicts the person's metric size, not
      the depth: ``(dx, dy, log m)`` with ``z = m / scale`` (pinhole: 2D size = metric
      size / depth) and ``root = z * (u + scale * dx, v + scale * dy, 1)``.

    Args:
        raw: ``(..., 3)`` network outputs (NumPy or torch).
        root_rays: ``(..., 2)`` focal-normalised 2D of the root joint, same frames.
        scale: ``(...)`` the person's 2D size in focal-normalised units (see
            :func:`scaled_rays`), or None.
    Returns:
        ``(..., 3)`` metres, camera frame.
    """
    torch_in = type(raw).__module__.startswith("torch")  # without importing torch
    if torch_in:
        import torch
    exp = torch.exp if torch_in else np.exp
    cat = (lambda a: torch.cat(a, dim=-1)) if torch_in else (lambda a: np.concatenate(a, axis=-1))
    lz = raw[..., 2:3].clamp(-3.0, 5.0) if torch_in else np.clip(raw[..., 2:3], -3.0, 5.0)
    if scale is None:
        z = exp(lz)
        return cat([z * (root_rays + raw[..., :2]), z])
    s = scale[..., None]
    z = exp(lz) / s
    return cat([z * (root_rays + s * raw[..., :2]), z])


def ray_rotation(rays: np.ndarray) -> np.ndarray:
    """Rotations ``(..., 3, 3)`` turning the camera's optical axis onto ``rays (..., 2)``.

    The smallest rotation taking ``(0, 0, 1)`` to the unit vector along ``(u, v, 1)``;
    its columns are the axes of a virtual camera looking straight at that point, in
    camera coordinates. Mirroring the image (``u -> -u``) mirrors the rotation, which
    keeps flip test-time augmentation exact.
    """
    r = np.asarray(rays, dtype=np.float64)
    d = np.concatenate([r, np.ones(r.shape[:-1] + (1,))], axis=-1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    vx, vy, c = -d[..., 1], d[..., 0], d[..., 2]          # v = z x d = (-dy, dx, 0)
    k = 1.0 / (1.0 + c)
    R = np.zeros(r.shape[:-1] + (3, 3))
    R[..., 0, 0] = 1 - k * vy * vy
    R[..., 0, 1] = k * vx * vy
    R[..., 0, 2] = vy
    R[..., 1, 0] = k * vx * vy
    R[..., 1, 1] = 1 - k * vx * vx
    R[..., 1, 2] = -vx
    R[..., 2, 0] = -vy
    R[..., 2, 1] = vx
    R[..., 2, 2] = c
    return R


def _running_median(a: np.ndarray, window: int, causal: bool, time_axis: int) -> np.ndarray:
    """Running median of ``a`` along ``time_axis`` (centred, or trailing when causal).

    Edges repeat the first/last value. The result equals scipy's ``median_filter`` with
    ``mode="nearest"`` (element of rank ``window // 2`` of each window); small arrays
    (training batches) take a vectorised sliding-window path, which is several times faster.
    """
    size = max(int(window), 1)
    a = np.asarray(a)
    if a.size * size <= 4_000_000:
        x = np.moveaxis(a, time_axis, -1)
        pad = (size - 1, 0) if causal else (size // 2, size - 1 - size // 2)
        xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [pad], mode="edge")
        win = np.lib.stride_tricks.sliding_window_view(xp, size, axis=-1)
        med = np.partition(win, size // 2, axis=-1)[..., size // 2]
        return np.moveaxis(med, -1, time_axis)
    from scipy.ndimage import median_filter

    # A trailing window for causal models: scipy's origin shifts the window's centre.
    origin = size // 2 - (1 - size % 2) if causal else 0
    shape = [1] * a.ndim
    org = [0] * a.ndim
    shape[time_axis], org[time_axis] = size, origin
    return median_filter(a, size=tuple(shape), mode="nearest", origin=tuple(org))


def _spread(r: np.ndarray) -> np.ndarray:
    """Per-frame RMS distance of the joints ``(..., J, 2)`` from their mean."""
    return np.sqrt(((r - r.mean(axis=-2, keepdims=True)) ** 2).sum(-1).mean(-1))


def person_scale(rays: np.ndarray, window: int, causal: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Running 2D size and root position of one person, in the units of ``rays``.

    The per-frame size is the RMS distance of the joints from their mean; both it and
    the root position are passed through a running median over ``window`` frames
    (centred, or trailing for causal models) so a raised arm or one bad frame does not
    rescale the input, while a person walking towards the camera still grows.

    Args:
        rays: ``(..., T, J, 2)`` keypoints (joint 0 = root); leading axes are a batch.
        window: frames of the running median (the model's receptive field).
        causal: use only the current and past frames.
    Returns:
        ``scale (..., T)`` and ``centre (..., T, 2)``.
    """
    r = np.asarray(rays, dtype=np.float64)
    scale = _running_median(_spread(r), window, causal, r.ndim - 3)
    centre = _running_median(r[..., 0, :], window, causal, r.ndim - 3)
    return np.maximum(scale, 1e-6), centre


@dataclass
class ScaledInput:
    """``focal_scaled`` network input and what is needed to map outputs back.

    Attributes:
        x: ``(..., T, J, 2)`` float32 network input: the person seen by a virtual camera
            that looks straight at them (``rays`` rotated by ``R``), divided by their 2D size.
        rays: ``(..., T, J, 2)`` the keypoints as rays of that virtual camera (unscaled).
        scale: ``(..., T)`` the person's 2D size in those rays.
        R: ``(..., T, 3, 3)`` virtual-camera axes in camera coordinates: ``X_cam = R @ X_virtual``.
    """

    x: np.ndarray
    rays: np.ndarray
    scale: np.ndarray
    R: np.ndarray


def scaled_rays(rays: np.ndarray, window: int, causal: bool = False) -> ScaledInput:
    """``focal_scaled`` input from focal-normalised rays ``(..., T, J, 2)``.

    Two normalisations remove everything about the camera that the pose does not
    depend on: the rays are re-projected into a virtual camera rotated to look at the
    person's (running-median) root, as a perspective crop does, so an off-centre person
    looks as if filmed head-on; then they are divided by the person's 2D size (see
    :func:`person_scale`), so lens and distance do not matter. The network predicts in
    the virtual camera's frame; :func:`to_camera_frame` maps results back.
    """
    r = np.asarray(rays, dtype=np.float64)
    t_axis = r.ndim - 3
    R = ray_rotation(_running_median(r[..., 0, :], window, causal, t_axis))                                     # (..., T, 3, 3)
    h = np.concatenate([r, np.ones(r.shape[:-1] + (1,))], axis=-1)
    q = np.matmul(h, R)                                         # R^T h for every joint
    vr = q[..., :2] / q[..., 2:3]
    scale = np.maximum(_running_median(_spread(vr), window, causal, t_axis), 1e-6)
    x = vr / scale[..., None, None]
    return ScaledInput(x.astype(np.float32), vr.astype(np.float32), scale.astype(np.float32), R.astype(np.float32))


def to_camera_frame(points: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Points ``(T, J, 3)`` or ``(T, 3)`` in the virtual camera's frame -> camera frame."""
    if points.ndim == 2:
        return np.einsum("tij,tj->ti", R, points).astype(np.float32)
    return np.einsum("tij,tkj->tki", R, points).astype(np.float32)


def normalize_input(keypoints_px: np.ndarray, width: int, height: int, mode: str = "screen",
                    focal_px: float | None = None, center_px: tuple[float, float] | None = None) -> np.ndarray:
    """Pixels ``(..., J, 2)`` -> the network's input units.

    ``screen``: VideoPose3D's ``x / w * 2 - [1, h / w]``. ``focal``: ``(x - c) / f``, i.e.
    normalised camera rays, which removes the lens from the input. ``focal_scaled``
    input is built from ``focal`` rays by :func:`scaled_rays`.
    """
    kp = np.asarray(keypoints_px, dtype=np.float32)
    if mode == "screen":
        return normalize_screen_coordinates(kp, w=width, h=height).astype(np.float32)
    if mode == "focal":
        if focal_px is None:
            raise ValueError("focal normalisation needs a focal length")
        from poselift.geometry.intrinsics import pixels_to_rays

        c = center_px if center_px is not None else (width / 2, height / 2)
        return pixels_to_rays(kp, focal_px=focal_px, center_px=c, dtype=np.float32)
    raise ValueError(f"unknown input normalisation {mode!r}")


def run_network(model: Network, x: np.ndarray, flip_perm_in: np.ndarray | None = None,
                flip_perm_out: np.ndarray | None = None, tta: bool = False, causal: bool = False,
                negate_x_out: bool = True) -> np.ndarray:
    """Predict one output per input frame.

    Args:
        model: a :class:`~poselift.lift.numpy_backend.NumpyTemporalModel` or a torch
            :class:`~poselift.lift.model.TemporalModel` in eval mode.
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
    inp = np.ascontiguousarray(np.stack(batch), dtype=np.float32)
    t = x.shape[0]
    rf = 2 * pad
    if isinstance(model, NumpyTemporalModel):
        forward = model
    else:
        import torch

        model.eval()

        def forward(a: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.from_numpy(np.ascontiguousarray(a))).numpy()
    y = np.concatenate([forward(inp[:, s: min(t, s + _CHUNK) + rf]) for s in range(0, t, _CHUNK)], axis=1)
    if tta:
        y[1, ..., 0] *= -1 if negate_x_out else 1
        y[1] = y[1][:, flip_perm_out]
        return y.mean(axis=0).astype(np.float32)
    return y[0].astype(np.float32)


def lift_sequence(lm: LiftModel, keypoints_px: np.ndarray, width: int, height: int, *,
                  tta: bool = True, focal_px: float | None = None,
                  center_px: tuple[float, float] | None = None,
                  geometric_trajectory: bool = False,
                  keypoint_definition: str = "detector") -> dict[str, np.ndarray]:
    """Lift one person's 2D sequence to 3D.

    Args:
        lm: loaded model (its ``input_layout`` must match the keypoints).
        keypoints_px: ``(T, J_in, 2)`` pixels in ``lm.input_layout``.
        width, height: image size in pixels.
        tta: test-time flip augmentation.
        focal_px, center_px: camera intrinsics, used by ``focal``-normalised models and
            to scale a trajectory; defaults to a centred principal point.
        keypoint_definition: where the keypoints sit on the body, for networks with a
            keypoint-definition input (see :data:`KEYPOINT_DEFINITIONS`); ignored by others.
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
    scale = si = None
    if lm.input_normalization == "focal_scaled":
        si = scaled_rays(normalize_input(kp, width, height, "focal", focal_px, center_px), lm.receptive_field,
                         lm.causal)
        x, rays, scale = si.x, si.rays, si.scale
    else:
        x = rays = normalize_input(kp, width, height, lm.input_normalization, focal_px, center_px)
    perm_in = skel_in.flip_permutation()
    try:
        perm_out = get_skeleton(lm.output_layout).flip_permutation()
    except KeyError:
        perm_out = None
    out = {"poses_3d": run_network(lm.model_pos, network_input(lm.model_pos, x, keypoint_definition), perm_in,
                                   perm_out, tta and perm_out is not None, lm.causal)}
    if si is not None:
        out["poses_3d"] = to_camera_frame(out["poses_3d"], si.R)
    if lm.model_traj is not None:
        traj = run_network(lm.model_traj, network_input(lm.model_traj, x, keypoint_definition), perm_in,
                           np.zeros(1, dtype=int), tta, lm.causal)[:, 0]
        param = lm.extra.get("trajectory_parameterization")
        if param in ("ray_logdepth", "ray_logsize"):
            if param == "ray_logsize" and scale is None:
                raise ValueError("a ray_logsize trajectory model needs focal_scaled input")
            # Averaging (dx, dy, log z) over TTA then decoding with the unflipped ray is
            # consistent: flipping negates u and dx alike.
            traj = decode_trajectory(traj, rays[:, 0, :2], scale if param == "ray_logsize" else None)
        if si is not None:
            traj = to_camera_frame(traj, si.R)
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
    from poselift.geometry.intrinsics import pixels_to_rays

    c = center_px if center_px is not None else (width / 2, height / 2)
    rays = pixels_to_rays(kp, focal_px=focal_px, center_px=c)
    root = solve_root_translation(poses - poses[:, :1], rays)
    # Per-frame solves jitter in depth (a 1 % scale wobble is 5 cm at 5 m); a centred,
    # zero-phase Gaussian of 2 frames removes it without lagging the motion.
    if len(root) > 2:
        root = gaussian_filter1d(root, sigma=_TRAJ_SMOOTH_FRAMES, axis=0, mode="nearest")
    return root.astype(np.float32)
