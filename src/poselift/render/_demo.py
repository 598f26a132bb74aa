"""Synthetic moving people for render tests and benchmarks (no model or video needed)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from poselift.geometry.cameras import project_pinhole

# A standing H36M-17 pose in metres, camera frame (x right, y down), root at the origin.
# The subject faces the camera, so its left side is on the image's right (+x).
_REST = np.array([
    [0.00, 0.00, 0.0],    # pelvis
    [-0.13, 0.00, 0.0], [-0.13, 0.45, 0.0], [-0.13, 0.88, 0.05],   # right leg
    [0.13, 0.00, 0.0], [0.13, 0.45, 0.0], [0.13, 0.88, 0.05],      # left leg
    [0.00, -0.25, 0.0], [0.00, -0.50, 0.0], [0.00, -0.60, -0.05], [0.00, -0.72, 0.0],
    [0.18, -0.48, 0.0], [0.22, -0.22, 0.0], [0.24, 0.02, -0.05],   # left arm
    [-0.18, -0.48, 0.0], [-0.22, -0.22, 0.0], [-0.24, 0.02, -0.05],  # right arm
])


def demo_sequence(num_frames: int, width: int, height: int, num_people: int = 1,
                  fps: float = 30.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Walking-in-place people seen by a pinhole camera.

    Returns:
        ``keypoints_2d (P, T, 17, 2)`` pixels, ``poses_3d (P, T, 17, 3)`` root-centred
        camera-frame metres, ``valid (P, T)`` all True, ``roots (P, T, 3)`` camera-frame
        root positions in metres.
    """
    t = np.arange(num_frames) / fps
    poses = np.repeat(_REST[None, None], num_people, 0).repeat(num_frames, 1).copy()
    for p in range(num_people):
        phase = 2 * np.pi * 1.2 * t + p
        swing = 0.25 * np.sin(phase)[:, None]
        poses[p, :, [2, 3], 2] += swing.T  # right leg forward/back
        poses[p, :, [5, 6], 2] -= swing.T
        poses[p, :, [12, 13], 2] += swing.T  # arms opposite to legs
        poses[p, :, [15, 16], 2] -= swing.T
        yaw = 0.6 * np.sin(2 * np.pi * 0.3 * t + p)
        c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
        x, z = poses[p, :, :, 0].copy(), poses[p, :, :, 2].copy()
        poses[p, :, :, 0] = c * x + s * z
        poses[p, :, :, 2] = -s * x + c * z
    roots = np.zeros((num_people, num_frames, 3))
    for p in range(num_people):
        roots[p, :, 0] = (p - (num_people - 1) / 2) * 1.2 + 0.3 * np.sin(2 * np.pi * 0.2 * t)
        roots[p, :, 1] = 0.1
        roots[p, :, 2] = 4.0
    focal = 1.1 * max(width, height)
    kp = project_pinhole(poses + roots[:, :, None], focal, np.array([width / 2, height / 2]))
    return kp, poses, np.ones((num_people, num_frames), dtype=bool), roots


def demo_frames(num_frames: int, width: int, height: int) -> Iterator[np.ndarray]:
    """RGB ``(H, W, 3) uint8`` frames: a dark gradient with a moving bar (cheap to make)."""
    base = np.zeros((height, width, 3), dtype=np.uint8)
    base[..., 0] = np.linspace(20, 60, width, dtype=np.uint8)[None]
    base[..., 1] = np.linspace(30, 70, height, dtype=np.uint8)[:, None]
    base[..., 2] = 50
    for i in range(num_frames):
        img = base.copy()
        x0 = (i * 7) % max(1, width - 40)
        img[:, x0:x0 + 40] = (90, 90, 110)
        yield img
