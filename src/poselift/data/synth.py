"""Training pairs from motion capture: virtual cameras, projection and a detector-noise model.

Mocap gives 3D joints ``(T, 17, 3)`` in a Z-up world (metres). :func:`sample_camera`
places a virtual camera around the subject, :func:`project_clip` turns the motion into
camera-frame 3D and pixel 2D, and :class:`DetectorNoise` corrupts the 2D the way real
2D detectors do, so a lifter trained on it transfers to detector output.

Camera frame: x right, y down, z forward, metres. Pixels: x right, y down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from poselift.geometry.skeletons import H36M17

#: Landscape and portrait frame sizes of common cameras and phones.
FRAME_SIZES = ((1920, 1080), (1280, 720), (640, 480), (1080, 1920), (720, 1280), (1000, 1000), (854, 480))


@dataclass
class VirtualCamera:
    """A pinhole camera in pixels.

    Attributes:
        R: ``(3, 3)`` world->camera rotation (rows are the camera axes in world coordinates).
        C: ``(3,)`` camera centre in world metres.
        f: focal length in pixels (square pixels).
        c: ``(2,)`` principal point in pixels.
        width, height: frame size in pixels.
    """

    R: np.ndarray
    C: np.ndarray
    f: float
    c: np.ndarray
    width: int
    height: int

    def to_camera(self, x_world: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` -> camera frame ``(..., 3)``."""
        return (x_world - self.C) @ self.R.T

    def project(self, x_cam: np.ndarray) -> np.ndarray:
        """Camera-frame points ``(..., 3)`` -> pixels ``(..., 2)`` (depth clamped to 5 cm)."""
        z = np.maximum(x_cam[..., 2:3], 0.05)
        return self.f * x_cam[..., :2] / z + self.c


def look_at(eye: np.ndarray, target: np.ndarray, roll_rad: float = 0.0) -> np.ndarray:
    """World->camera rotation for a camera at ``eye`` looking at ``target`` in a Z-up world,
    image 'down' aligned with world -Z, then rolled about the optical axis."""
    fwd = target - eye
    fwd = fwd / np.linalg.norm(fwd)
    right = np.cross(fwd, np.array([0.0, 0.0, 1.0]))
    if np.linalg.norm(right) < 1e-6:  # looking straight up/down
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    cr, sr = np.cos(roll_rad), np.sin(roll_rad)
    right, down = cr * right + sr * down, -sr * right + cr * down
    return np.stack([right, down, fwd])


def sample_camera(rng: np.random.Generator, positions: np.ndarray, *,
                  f35_range: tuple[float, float] = (16.0, 120.0),
                  person_fraction: tuple[float, float] = (0.3, 0.9),
                  height_range: tuple[float, float] = (0.2, 3.0),
                  roll_deg: float = 4.0, frame_sizes=FRAME_SIZES) -> VirtualCamera:
    """A random static camera framing the motion ``positions (T, J, 3)`` (Z-up metres).

    The 35 mm-equivalent focal length is log-uniform in ``f35_range`` (wide phone lens to
    tele); the distance is chosen so the person's height fills ``person_fraction`` of the
    frame's height; azimuth is uniform, camera height uniform in ``height_range``, with a
    small random roll and an aim point jittered around the subject.
    """
    w, h = frame_sizes[rng.integers(len(frame_sizes))]
    f35 = float(np.exp(rng.uniform(np.log(f35_range[0]), np.log(f35_range[1]))))
    f = f35 / 43.27 * float(np.hypot(w, h))
    centre = positions[:, 0].mean(axis=0)
    extent = positions[..., 2].max() - positions[..., 2].min()
    body = max(float(extent), 1.0)
    frac = rng.uniform(*person_fraction)
    dist = f * body / (frac * h)
    # Keep the subject's whole path in view a bit more often by backing off for travellers.
    travel = float(np.linalg.norm(positions[:, 0, :2].max(0) - positions[:, 0, :2].min(0)))
    dist = max(dist + 0.5 * travel * rng.uniform(0, 1), 1.2)
    az = rng.uniform(0, 2 * np.pi)
    cam_h = rng.uniform(*height_range)
    eye = centre + np.array([dist * np.cos(az), dist * np.sin(az), 0.0])
    eye[2] = positions[..., 2].min() + cam_h
    target = centre + rng.normal(0, 0.15, 3)
    target[2] = positions[..., 2].min() + rng.uniform(0.6, 1.2)
    R = look_at(eye, target, np.radians(rng.normal(0, roll_deg)))
    c = np.array([w / 2, h / 2]) + rng.normal(0, 0.01 * w, 2)
    return VirtualCamera(R=R, C=eye, f=f, c=c, width=int(w), height=int(h))


@dataclass
class CameraBatch:
    """``N`` pinhole cameras (see :class:`VirtualCamera`): ``R (N, 3, 3)`` world->camera,
    ``C (N, 3)`` centres in metres, ``f (N,)`` focal lengths and ``c (N, 2)`` principal
    points in pixels, ``size (N, 2)`` frame width and height."""

    R: np.ndarray
    C: np.ndarray
    f: np.ndarray
    c: np.ndarray
    size: np.ndarray

    def to_camera(self, x_world: np.ndarray) -> np.ndarray:
        """World points ``(N, ..., 3)`` -> camera frame, one camera per leading index."""
        shape = (len(self.R),) + (1,) * (x_world.ndim - 2) + (3,)
        rel = x_world - self.C.reshape(shape)
        return np.matmul(rel.reshape(len(self.R), -1, 3), self.R.transpose(0, 2, 1)).reshape(x_world.shape)

    def project(self, x_cam: np.ndarray) -> np.ndarray:
        """Camera-frame points ``(N, ..., 3)`` -> pixels ``(N, ..., 2)`` (depth clamped to 5 cm)."""
        shape = (len(self.R),) + (1,) * (x_cam.ndim - 2)
        z = np.maximum(x_cam[..., 2:3], 0.05)
        return self.f.reshape(shape + (1,)) * x_cam[..., :2] / z + self.c.reshape(shape + (2,))


def look_at_batch(eye: np.ndarray, target: np.ndarray, roll_rad: np.ndarray) -> np.ndarray:
    """:func:`look_at` for ``N`` cameras at once: ``(N, 3)``, ``(N, 3)``, ``(N,)`` -> ``(N, 3, 3)``."""
    fwd = target - eye
    fwd = fwd / np.linalg.norm(fwd, axis=-1, keepdims=True)
    right = np.cross(fwd, np.array([0.0, 0.0, 1.0]))
    nr = np.linalg.norm(right, axis=-1, keepdims=True)
    right = np.where(nr < 1e-6, np.array([1.0, 0.0, 0.0]), right / np.maximum(nr, 1e-12))
    down = np.cross(fwd, right)
    cr, sr = np.cos(roll_rad)[:, None], np.sin(roll_rad)[:, None]
    right, down = cr * right + sr * down, -sr * right + cr * down
    return np.stack([right, down, fwd], axis=1)


def sample_cameras(rng: np.random.Generator, positions: np.ndarray, *,
                   f35_range: tuple[float, float] = (16.0, 120.0),
                   person_fraction: tuple[float, float] = (0.3, 0.9),
                   height_range: tuple[float, float] = (0.2, 3.0),
                   roll_deg: float = 4.0, frame_sizes=FRAME_SIZES) -> CameraBatch:
    """:func:`sample_camera` for ``N`` motions ``positions (N, T, J, 3)`` at once (same
    distribution, one camera per motion)."""
    n = positions.shape[0]
    sizes = np.asarray(frame_sizes, dtype=np.float64)[rng.integers(len(frame_sizes), size=n)]
    w, h = sizes[:, 0], sizes[:, 1]
    f35 = np.exp(rng.uniform(np.log(f35_range[0]), np.log(f35_range[1]), n))
    f = f35 / 43.27 * np.hypot(w, h)
    root = positions[:, :, 0]
    centre = root.mean(axis=1)
    zmin = positions[..., 2].min(axis=(1, 2))
    body = np.maximum(positions[..., 2].max(axis=(1, 2)) - zmin, 1.0)
    dist = f * body / (rng.uniform(*person_fraction, n) * h)
    travel = np.linalg.norm(root[..., :2].max(1) - root[..., :2].min(1), axis=-1)
    dist = np.maximum(dist + 0.5 * travel * rng.uniform(0, 1, n), 1.2)
    az = rng.uniform(0, 2 * np.pi, n)
    cam_h = rng.uniform(*height_range, n)
    eye = centre + np.stack([dist * np.cos(az), dist * np.sin(az), np.zeros(n)], axis=1)
    eye[:, 2] = zmin + cam_h
    target = centre + rng.normal(0, 0.15, (n, 3))
    target[:, 2] = zmin + rng.uniform(0.6, 1.2, n)
    R = look_at_batch(eye, target, np.radians(rng.normal(0, roll_deg, n)))
    c = sizes / 2 + rng.normal(0, 1, (n, 2)) * (0.01 * w)[:, None]
    return CameraBatch(R=R, C=eye, f=f, c=c, size=sizes)


def project_clip(cam: VirtualCamera, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World motion ``(T, J, 3)`` -> camera-frame 3D ``(T, J, 3)`` and pixels ``(T, J, 2)``."""
    x_cam = cam.to_camera(positions)
    return x_cam, cam.project(x_cam)


@dataclass
class DetectorNoise:
    """Corrupt clean 2D projections like a real 2D pose detector.

    All sizes are fractions of the person's height in pixels (robust to resolution).

    * ``jitter``: per-frame Gaussian noise per joint, larger on wrists/ankles/head
      (``jitter_scale``), part white and part temporally smoothed (detectors both
      flicker and drift).
    * ``offset``: per-sequence systematic shift of each joint — detectors put hips,
      shoulders and head somewhere other than mocap joint centres.
    * ``drop_joint`` / ``drop_frame``: missing detections, filled by linear
      interpolation as the inference pipeline does.
    * ``swap``: short bursts where a left/right limb pair is swapped.
    * Returns confidences that drop where the noise is large or data was filled.
    """

    jitter: tuple[float, float] = (0.002, 0.015)
    offset: float = 0.012
    drop_joint: float = 0.02
    drop_frame: float = 0.01
    swap: float = 0.003
    jitter_scale: np.ndarray = field(default_factory=lambda: np.array(
        [1.0, 1.0, 1.2, 1.5, 1.0, 1.2, 1.5, 1.2, 1.0, 1.0, 1.3, 1.0, 1.2, 1.6, 1.0, 1.2, 1.6]))

    def __call__(self, rng: np.random.Generator, kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``kp (T, 17, 2)`` pixels -> noisy ``(T, 17, 2)`` pixels and scores ``(T, 17)``."""
        t, j, _ = kp.shape
        scale = float(np.median(kp[..., 1].max(1) - kp[..., 1].min(1))) + 1e-6
        out = kp.astype(np.float64).copy()
        score = np.full((t, j), 0.95)
        sigma = rng.uniform(*self.jitter) * scale
        white = rng.normal(0, 1, (t, j, 2)) * self.jitter_scale[:, None]
        slow = rng.normal(0, 1, (t, j, 2))
        k = max(int(rng.integers(3, 12)), 1)
        kernel = np.ones(k) / np.sqrt(k)
        slow = np.apply_along_axis(lambda s: np.convolve(s, kernel, mode="same"), 0, slow)
        out += sigma * (0.7 * white + 0.5 * slow * self.jitter_scale[:, None])
        out += rng.normal(0, self.offset * scale, (1, j, 2))
        score -= np.clip(np.linalg.norm(white, axis=-1) * 0.05, 0, 0.5)
        if self.swap > 0 and t > 4:
            for start in np.flatnonzero(rng.random(t) < self.swap):
                length = int(rng.integers(1, 6))
                pair = rng.integers(4)  # legs, arms
                left, right = [(4, 5, 6), (11, 12, 13)][pair % 2], [(1, 2, 3), (14, 15, 16)][pair % 2]
                sl = slice(start, min(t, start + length))
                out[sl, list(left) + list(right)] = out[sl, list(right) + list(left)]
                score[sl, list(left) + list(right)] *= 0.6
        missing = rng.random((t, j)) < self.drop_joint * rng.uniform(0, 2)
        missing |= (rng.random(t) < self.drop_frame * rng.uniform(0, 2))[:, None]
        missing[0] = missing[-1] = False
        if missing.any():
            idx = np.arange(t)
            for jj in np.flatnonzero(missing.any(0)):
                m = ~missing[:, jj]
                for c in range(2):
                    out[:, jj, c] = np.interp(idx, idx[m], out[m, jj, c])
            score[missing] = 0.1
        return out.astype(np.float32), np.clip(score, 0, 1).astype(np.float32)

    def batch(self, rng: np.random.Generator, kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same corruption for ``N`` sequences at once, vectorised (training batches).

        ``kp (N, T, 17, 2)`` pixels -> noisy ``(N, T, 17, 2)`` and scores ``(N, T, 17)``.
        Each sequence draws its own noise level, smoothing length, offsets, swaps and gaps.
        """
        n, t, j, _ = kp.shape
        scale = np.median(kp[..., 1].max(-1) - kp[..., 1].min(-1), axis=1) + 1e-6          # (N,)
        out = kp.astype(np.float64).copy()
        score = np.full((n, t, j), 0.95)
        sigma = (rng.uniform(*self.jitter, n) * scale)[:, None, None, None]
        js = self.jitter_scale[None, None, :, None]
        white = rng.standard_normal((n, t, j, 2), dtype=np.float32) * js
        # Temporally smoothed part: a box filter of a per-sequence length k (numpy's
        # convolve(mode="same") window [t - k//2, t + (k-1)//2], clipped), via cumulative sums.
        slow = rng.standard_normal((n, t, j, 2), dtype=np.float32)
        k = rng.integers(3, 12, n)
        cs = np.concatenate([np.zeros((n, 1, j, 2), np.float32), np.cumsum(slow, axis=1)], axis=1)
        ti = np.arange(t)
        for kk in np.unique(k):
            sel = np.flatnonzero(k == kk)
            lo = np.clip(ti - kk // 2, 0, t)
            hi = np.clip(ti + (kk - 1) // 2 + 1, 0, t)
            slow[sel] = (cs[sel][:, hi] - cs[sel][:, lo]) / np.sqrt(kk)
        out += sigma * (0.7 * white + 0.5 * slow * js)
        out += rng.standard_normal((n, 1, j, 2)) * (self.offset * scale)[:, None, None, None]
        score -= np.clip(np.linalg.norm(white, axis=-1) * 0.05, 0, 0.5)
        if self.swap > 0 and t > 4:
            left = np.array([[4, 5, 6], [11, 12, 13]])
            right = np.array([[1, 2, 3], [14, 15, 16]])
            for b, start in zip(*np.nonzero(rng.random((n, t)) < self.swap)):
                pair = int(rng.integers(4)) % 2
                sl = slice(start, min(t, start + int(rng.integers(1, 6))))
                ids = np.r_[left[pair], right[pair]]
                out[b, sl, ids] = out[b, sl, np.r_[right[pair], left[pair]]]
                score[b, sl, ids] *= 0.6
        missing = rng.random((n, t, j)) < (self.drop_joint * rng.uniform(0, 2, n))[:, None, None]
        missing |= (rng.random((n, t)) < (self.drop_frame * rng.uniform(0, 2, n))[:, None])[:, :, None]
        missing[:, 0] = missing[:, -1] = False
        if missing.any():
            # Linear interpolation between the nearest kept frames, for every (sequence,
            # joint) series with a gap at once.
            bi, ji = np.nonzero(missing.any(axis=1))
            m = missing[bi, :, ji]                                       # (S, T)
            series = out[bi, :, ji]                                      # (S, T, 2)
            idx = np.broadcast_to(np.arange(t)[None], m.shape)
            prev = np.maximum.accumulate(np.where(m, 0, idx), axis=1)
            nxt = np.flip(np.minimum.accumulate(np.flip(np.where(m, t - 1, idx), axis=1), axis=1), axis=1)
            w = ((idx - prev) / np.maximum(nxt - prev, 1))[..., None]
            rows = np.arange(len(bi))[:, None]
            filled = series[rows, prev] * (1 - w) + series[rows, nxt] * w
            out[bi, :, ji] = np.where(m[..., None], filled, series)
            score[missing] = 0.1
        return out.astype(np.float32), np.clip(score, 0, 1).astype(np.float32)


def flip_world(positions: np.ndarray) -> np.ndarray:
    """Mirror a Z-up world motion ``(T, 17, 3)`` through the x=0 plane and swap left/right,
    giving an equally plausible motion (data augmentation)."""
    out = positions.copy()
    out[..., 0] *= -1
    return out[:, H36M17.flip_permutation()]
