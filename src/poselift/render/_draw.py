"""Per-frame drawing for the visualisation video: OpenCV primitives on RGB uint8 arrays.

Colours are RGB triples (the frames are RGB, not OpenCV's usual BGR). Each person has
a base colour; bones between a joint and its parent are classified by the child joint:
left-side joints get a light tint of the base colour, right-side joints a dark shade,
and the spine/head the base colour itself.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from poselift.geometry.skeletons import Skeleton

# Sub-pixel precision for cv2 drawing: coordinates are passed as integers * 2**_SHIFT.
_SHIFT = 4
_ONE = 1 << _SHIFT

# Hues picked to stay distinguishable from each other and from skin/grass/sky tones.
_BASE_HUES = (0.02, 0.58, 0.33, 0.83, 0.12, 0.47, 0.70, 0.92)

Color = tuple[int, int, int]


def person_colors(num_people: int, colors: Sequence[Color] | None = None) -> list[Color]:
    """Base RGB colour of each person: ``colors`` cycled, or a built-in distinct palette."""
    if colors:
        base = [tuple(int(c) for c in col) for col in colors]
        return [base[p % len(base)] for p in range(num_people)]  # type: ignore[misc]
    out: list[Color] = []
    for p in range(num_people):
        h = _BASE_HUES[p % len(_BASE_HUES)]
        v = 0.95 if p < len(_BASE_HUES) else 0.75  # beyond 8 people, vary brightness too
        out.append(tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(h, 0.85, v)))  # type: ignore[misc]
    return out


def limb_shades(base: Color) -> tuple[Color, Color, Color]:
    """``(centre, left, right)`` shades of one person's base colour."""
    b = np.asarray(base, dtype=np.float64)
    left = b + 0.55 * (255 - b)
    right = 0.55 * b
    return base, tuple(int(round(c)) for c in left), tuple(int(round(c)) for c in right)  # type: ignore[return-value]


def bone_sides(skeleton: Skeleton) -> np.ndarray:
    """Per bone: 0 centre, 1 left, 2 right (by the child joint). ``(B,) int``."""
    left, right = set(skeleton.joints_left), set(skeleton.joints_right)
    return np.array([1 if c in left else 2 if c in right else 0 for _, c in skeleton.bones], dtype=np.int64)


def draw_skeleton_2d(img: np.ndarray, joints: np.ndarray, skeleton: Skeleton,
                     shades: tuple[Color, Color, Color], sides: np.ndarray, thickness: int) -> None:
    """Draw one person's bones and joints in place.

    Args:
        img: ``(H, W, 3) uint8`` RGB image, modified in place.
        joints: ``(J, 2)`` pixel coordinates in ``img`` (x right, y down); joints with a
            non-finite coordinate and their bones are not drawn.
        shades: ``(centre, left, right)`` RGB colours.
        sides: output of :func:`bone_sides`.
    """
    finite = np.isfinite(joints).all(-1)
    # Clamp far outliers so the fixed-point conversion below cannot overflow int32.
    pts = np.round(np.clip(np.nan_to_num(joints), -1e5, 1e5) * _ONE).astype(np.int64)
    for (a, b), side in zip(skeleton.bones, sides):
        if finite[a] and finite[b]:
            cv2.line(img, (int(pts[a, 0]), int(pts[a, 1])), (int(pts[b, 0]), int(pts[b, 1])),
                     shades[side], thickness, cv2.LINE_AA, _SHIFT)
    r = max(1, thickness) * _ONE
    for j in np.flatnonzero(finite):
        cv2.circle(img, (int(pts[j, 0]), int(pts[j, 1])), r, shades[0], -1, cv2.LINE_AA, _SHIFT)


def camera_to_display(x: np.ndarray) -> np.ndarray:
    """Camera frame (x right, y down, z forward) -> display world (X right, Y forward, Z up)."""
    return np.stack([x[..., 0], x[..., 2], -x[..., 1]], axis=-1)


def world_to_display(x: np.ndarray) -> np.ndarray:
    """poselift world frame (X right, Y up, Z toward the camera) -> display (X, Y forward, Z up)."""
    return np.stack([x[..., 0], -x[..., 2], x[..., 1]], axis=-1)


@dataclass
class OrbitView:
    """Fixed orthographic orbit camera around ``center`` for a square ``size`` panel.

    ``azimuth`` 0 looks from where the recording camera stood (so the 3D view matches
    the video); positive values move the viewpoint counter-clockwise seen from above.
    ``elevation`` raises the viewpoint above the horizon. Both in degrees. ``scale`` is
    pixels per metre and is fixed for the whole video, so nothing jitters.
    """

    size: int
    center: np.ndarray  # (3,) display-world metres
    scale: float
    azimuth: float
    elevation: float

    def __post_init__(self) -> None:
        a, e = np.radians(self.azimuth), np.radians(self.elevation)
        ca, sa, ce, se = np.cos(a), np.sin(a), np.cos(e), np.sin(e)
        turn = np.array([[ca, sa, 0.0], [-sa, ca, 0.0], [0.0, 0.0, 1.0]])
        # Rows: screen-right, depth (away from viewer), screen-up.
        tilt = np.array([[1.0, 0.0, 0.0], [0.0, ce, -se], [0.0, se, ce]])
        self.rotation = tilt @ turn

    def project(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Display-world points ``(..., 3)`` -> (panel pixels ``(..., 2)``, depth ``(...)``)."""
        q = (p - self.center) @ self.rotation.T
        half = self.size / 2
        uv = np.stack([half + self.scale * q[..., 0], half - self.scale * q[..., 2]], axis=-1)
        return uv, q[..., 1]


def fit_view(points: np.ndarray, size: int, azimuth: float, elevation: float,
             ground: float, margin: float = 0.92) -> OrbitView:
    """Choose one centre and scale that keeps every point of the whole video in view.

    Args:
        points: ``(N, 3)`` display-world points (all valid joints of all frames).
        ground: height ``Z`` of the floor, included so the grid fits too.
    """
    if len(points) == 0:
        points = np.array([[0.0, 0.0, ground], [0.0, 0.0, ground + 1.7]])
    lo = np.percentile(points, 0.5, axis=0)
    hi = np.percentile(points, 99.5, axis=0)
    lo[2] = min(lo[2], ground)
    center = (lo + hi) / 2
    # A sphere bounds the extent for any orbit angle; a floor of 1 m keeps a single
    # small person from filling the panel edge to edge.
    radius = max(float(np.linalg.norm(hi - lo)) / 2, 1.0)
    return OrbitView(size=size, center=center, scale=margin * size / 2 / radius,
                     azimuth=azimuth, elevation=elevation)


def draw_background(view: OrbitView, ground: float, extent: float, step: float = 0.5,
                    bg: Color = (250, 250, 250), grid: Color = (200, 200, 200),
                    axis_names: tuple[str, str, str] = ("x", "forward", "up"),
                    depth_sign: float = 1.0) -> np.ndarray:
    """The floor grid on ``Z = ground`` (lines every ``step`` metres, anchored at whole
    multiples of ``step`` so the grid stays put in the scene when the view follows
    people) and labelled axis stubs, 0.5 m long, from the grid line crossing nearest
    the view centre: X red, the depth axis green (``depth_sign`` -1 draws it toward
    the viewer, as the world's Z), up blue.

    Returns ``(size, size, 3) uint8`` RGB; rendered once per video (or per frame when
    the view follows people).
    """
    img = np.empty((view.size, view.size, 3), dtype=np.uint8)
    img[:] = bg
    cx, cy = round(view.center[0] / step) * step, round(view.center[1] / step) * step
    n = int(np.ceil(extent / step)) + 1
    ticks = np.arange(-n, n + 1) * step
    lines = []
    for t in ticks:
        lines.append(((cx + t, cy - n * step, ground), (cx + t, cy + n * step, ground)))
        lines.append(((cx - n * step, cy + t, ground), (cx + n * step, cy + t, ground)))
    thick = max(1, view.size // 480)
    for a, b in lines:
        (uv, _) = view.project(np.array([a, b]))
        p = np.round(uv * _ONE).astype(np.int64)
        cv2.line(img, (int(p[0, 0]), int(p[0, 1])), (int(p[1, 0]), int(p[1, 1])), grid, thick,
                 cv2.LINE_AA, _SHIFT)
    # Axis stubs at a grid crossing toward the panel's lower right, clear of the people
    # in the middle (and of the legend and scale bar on the left).
    k = max(1, int(0.55 * extent / step))
    corners = np.array([[cx + a * k * step, cy + b * k * step, ground] for a in (-1, 1) for b in (-1, 1)])
    uv_c, _ = view.project(corners)
    inside = ((uv_c > 0.08 * view.size) & (uv_c < 0.85 * view.size)).all(-1)
    score = uv_c.sum(-1) - 1e6 * ~inside
    o = corners[int(np.argmax(score))] if inside.any() else np.array([cx, cy, ground])
    font = max(0.4, view.size / 1400)
    for axis, col, name in zip((0, 1, 2), ((220, 60, 60), (60, 170, 60), (60, 90, 220)), axis_names):
        e = o.copy()
        e[axis] += 0.5 * (depth_sign if axis == 1 else 1.0)
        uv, _ = view.project(np.array([o, e]))
        p = np.round(uv * _ONE).astype(np.int64)
        cv2.line(img, (int(p[0, 0]), int(p[0, 1])), (int(p[1, 0]), int(p[1, 1])), col, thick + 1,
                 cv2.LINE_AA, _SHIFT)
        cv2.putText(img, name, (int(uv[1, 0]) + 3, int(uv[1, 1]) - 3), cv2.FONT_HERSHEY_SIMPLEX, font, col, 1,
                    cv2.LINE_AA)
    return img


def put_label(img: np.ndarray, text: str, xy: tuple[float, float], color: Color, scale: float,
              outline: Color = (255, 255, 255)) -> None:
    """Text centred above ``xy`` (pixels), in ``color`` with a thin outline so it reads on
    any background. Non-finite positions draw nothing."""
    if not (np.isfinite(xy[0]) and np.isfinite(xy[1])):
        return
    th = max(1, int(round(scale * 2)))
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, th)
    org = (int(np.clip(xy[0] - w / 2, 0, img.shape[1] - w)), int(np.clip(xy[1], h + 2, img.shape[0] - 2)))
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, outline, th + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, th, cv2.LINE_AA)


def draw_panel_overlay(img: np.ndarray, view: OrbitView, labels: Sequence[str],
                       shades: Sequence[tuple[Color, Color, Color]], info: str) -> None:
    """Legend (person labels in their colours; light = left limbs, dark = right limbs),
    a 1 m scale bar with the grid spacing, and a line describing the view, in place."""
    size = view.size
    font = max(0.4, size / 1400)
    th = 1
    line_h = int(24 * font / 0.5)
    y = line_h
    ink = (90, 90, 90)
    for label, (centre, left, right) in zip(labels[:6], shades[:6]):
        x = 8
        cv2.putText(img, label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, font, centre, th + 1, cv2.LINE_AA)
        x += int(60 * font / 0.5)
        for col, name in ((left, "left"), (right, "right")):
            cv2.line(img, (x, y - line_h // 3), (x + int(18 * font / 0.5), y - line_h // 3), col,
                     max(2, round(size / 160)), cv2.LINE_AA)
            x += int(22 * font / 0.5)
            cv2.putText(img, name, (x, y), cv2.FONT_HERSHEY_SIMPLEX, font, ink, th, cv2.LINE_AA)
            x += int(48 * font / 0.5)
        y += line_h
    if len(labels) > 6:
        cv2.putText(img, f"+{len(labels) - 6} more", (8, y), cv2.FONT_HERSHEY_SIMPLEX, font, ink, th, cv2.LINE_AA)
    # 1 m scale bar (orthographic view: exact for horizontal lengths across the panel)
    bar = int(round(view.scale))
    x0, yb = 10, size - 12
    if bar < size - 40:
        cv2.line(img, (x0, yb), (x0 + bar, yb), (40, 40, 40), 2, cv2.LINE_AA)
        for xe in (x0, x0 + bar):
            cv2.line(img, (xe, yb - 5), (xe, yb + 3), (40, 40, 40), 2, cv2.LINE_AA)
        cv2.putText(img, "1 m (grid 0.5 m)", (x0 + 4, yb - 8), cv2.FONT_HERSHEY_SIMPLEX, font, (40, 40, 40), th,
                    cv2.LINE_AA)
    (w, _), _ = cv2.getTextSize(info, cv2.FONT_HERSHEY_SIMPLEX, font, th)
    cv2.putText(img, info, (size - w - 8, size - 10), cv2.FONT_HERSHEY_SIMPLEX, font, (130, 130, 130), th,
                cv2.LINE_AA)


def draw_people_3d(img: np.ndarray, view: OrbitView, people: list[tuple[np.ndarray, tuple[Color, Color, Color]]],
                   skeleton: Skeleton, sides: np.ndarray, thickness: int) -> None:
    """Draw several people's 3D skeletons into the panel, far bones first.

    Args:
        img: ``(size, size, 3) uint8`` RGB panel, modified in place.
        people: ``(joints (J, 3) display-world metres, shades)`` per visible person.
    """
    if not people:
        return
    parents = np.array([a for a, _ in skeleton.bones])
    children = np.array([b for _, b in skeleton.bones])
    segs = []
    for joints, shades in people:
        uv, depth = view.project(joints)
        finite = np.isfinite(uv).all(-1)
        pts = np.round(np.clip(np.nan_to_num(uv), -1e5, 1e5) * _ONE).astype(np.int64)
        bone_depth = 0.5 * (depth[parents] + depth[children])
        for k in range(len(parents)):
            a, b = parents[k], children[k]
            if finite[a] and finite[b]:
                segs.append((bone_depth[k], pts[a], pts[b], shades[sides[k]]))
    # Painter's algorithm: nearer bones overwrite farther ones where they cross.
    segs.sort(key=lambda s: -s[0])
    for _, pa, pb, col in segs:
        cv2.line(img, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), col, thickness, cv2.LINE_AA, _SHIFT)
