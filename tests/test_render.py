"""Tests for poselift.render: render short synthetic clips, decode them back with PyAV."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

from poselift.errors import PoseliftError
from poselift.geometry.skeletons import H36M17
from poselift.render import render_video, select_frames
from poselift.render._demo import demo_sequence
from poselift.render._draw import limb_shades, person_colors

T, W, H = 20, 320, 240
VIZ = 240  # equal to the input height, so 2D pixel coordinates map 1:1 into the output


def grey_frames(n: int = T):
    """Uniform frames whose grey level encodes the frame index (40 + 5 t)."""
    for t in range(n):
        yield np.full((H, W, 3), 40 + 5 * t, dtype=np.uint8)


def decode(path: Path) -> tuple[list[np.ndarray], av.video.stream.VideoStream]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(stream)]
        return frames, stream


def near(img: np.ndarray, xy: np.ndarray, color, radius: int = 2) -> float:
    """Smallest RGB distance to ``color`` within ``radius`` pixels of ``xy``."""
    x, y = int(round(xy[0])), int(round(xy[1]))
    patch = img[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1].astype(float)
    return float(np.linalg.norm(patch - np.asarray(color, float), axis=-1).min())


def midpoint(kp: np.ndarray, a: int, b: int) -> np.ndarray:
    return 0.5 * (kp[a] + kp[b])


@pytest.fixture(scope="module")
def scene():
    kp, poses, valid, _ = demo_sequence(T, W, H, num_people=2)
    valid = valid.copy()
    valid[1, 5:10] = False  # person 1 missing for a while
    valid[:, 17:] = False  # nobody in the last frames
    return kp, poses, valid


@pytest.fixture(scope="module")
def mp4(scene, tmp_path_factory):
    kp, poses, valid = scene
    out = tmp_path_factory.mktemp("mp4") / "clip.mp4"
    stats = render_video(grey_frames(), out, kp, poses, valid, 25.0, viz_size=VIZ, progress=False)
    frames, _ = decode(out)
    return stats, frames, out


def test_mp4_size_count_and_no_leftovers(mp4):
    stats, frames, out = mp4
    assert stats.frames == T == len(frames)
    assert frames[0].shape == (VIZ, W + VIZ, 3) == (stats.height, stats.width, 3)
    assert stats.codec in ("libx264", "libopenh264", "mpeg4")
    assert sorted(p.name for p in out.parent.iterdir()) == ["clip.mp4"]  # temp file renamed


def test_skeleton_pixels_at_joints(mp4, scene):
    _, frames, _ = mp4
    kp, _, _ = scene
    centre, left, right = limb_shades(person_colors(2)[0])
    t = 3
    img = frames[t]
    # Spine (pelvis->spine) is the centre colour, left thigh the light tint, right thigh the dark shade.
    assert near(img, midpoint(kp[0, t], 0, 7), centre) < 40
    assert near(img, midpoint(kp[0, t], 4, 5), left) < 40
    assert near(img, midpoint(kp[0, t], 1, 2), right) < 40
    # Far from every joint the frame is untouched grey.
    assert near(img, np.array([5.0, 5.0]), (55, 55, 55), radius=0) < 12


def test_people_have_different_colours(mp4, scene):
    _, frames, _ = mp4
    kp, _, _ = scene
    img = frames[2].astype(float)
    c0 = img[tuple(np.round(midpoint(kp[0, 2], 0, 7))[::-1].astype(int))]
    c1 = img[tuple(np.round(midpoint(kp[1, 2], 0, 7))[::-1].astype(int))]
    assert np.linalg.norm(c0 - c1) > 80
    base = person_colors(2)
    assert near(frames[2], midpoint(kp[1, 2], 0, 7), base[1]) < 40


def test_invalid_frames_draw_nothing(mp4, scene):
    _, frames, _ = mp4
    kp, _, _ = scene
    t = 7  # person 1 invalid, person 0 valid
    grey = 40 + 5 * t
    for a, b in H36M17.bones:
        assert near(frames[t], midpoint(kp[1, t], a, b), (grey, grey, grey), radius=0) < 12
    assert near(frames[t], midpoint(kp[0, t], 0, 7), limb_shades(person_colors(2)[0])[0]) < 40


def test_3d_panel_non_blank_and_empty_when_nobody_valid(mp4):
    _, frames, _ = mp4
    panel = [f[:, W:].astype(float) for f in frames]
    # Frames 17-19 show nobody: the panel is the static background, the same each time.
    assert np.abs(panel[18] - panel[19]).mean() < 1.0
    assert panel[19].std() > 5  # the grid is there
    for t in (0, 7, 12):
        changed = (np.abs(panel[t] - panel[19]).max(-1) > 60).sum()
        assert changed > 200, f"frame {t}: only {changed} skeleton pixels in the 3D panel"
    # Two people at t=0, one at t=7: fewer coloured pixels.
    n0 = (np.abs(panel[0] - panel[19]).max(-1) > 60).sum()
    n7 = (np.abs(panel[7] - panel[19]).max(-1) > 60).sum()
    assert n7 < n0


def test_3d_view_is_stable(tmp_path):
    """Same pose at the start and the end, wild motion in between: identical 3D panels."""
    kp, poses, valid, _ = demo_sequence(T, W, H, num_people=1)
    poses = np.repeat(poses[:, :1], T, axis=1)
    poses[:, 8:12] *= 2.5  # a big excursion must not rescale the other frames' view
    out = tmp_path / "stable.mp4"
    render_video(grey_frames(), out, kp, poses, valid, 25.0, viz_size=VIZ, progress=False)
    frames, _ = decode(out)
    a, b = frames[0][:, W:].astype(float), frames[-1][:, W:].astype(float)
    assert np.abs(a - b).mean() < 1.5


def test_downsample_skip_limit(scene, tmp_path):
    kp, poses, valid = scene
    out = tmp_path / "sub.mp4"
    stats = render_video(grey_frames(), out, kp, poses, valid, 30.0, viz_size=VIZ, viz_downsample=3,
                         viz_skip=2, viz_limit=4, progress=False)
    frames, stream = decode(out)
    assert stats.frames == len(frames) == 4  # input frames 2, 5, 8, 11
    assert float(stream.average_rate) == pytest.approx(10.0)
    for got, t in zip(frames, (2, 5, 8, 11)):
        assert abs(float(got[3, 3].mean()) - (40 + 5 * t)) < 6  # background grey tells the frame
    out2 = tmp_path / "sub2.mp4"
    stats = render_video(grey_frames(), out2, kp, poses, valid, 30.0, viz_size=VIZ, viz_downsample=3,
                         viz_skip=2, progress=False)
    assert stats.frames == len(decode(out2)[0]) == len(range(2, T, 3))


def test_select_frames():
    assert list(select_frames(10)) == list(range(10))
    assert list(select_frames(10, 2, 1, 3)) == [1, 3, 5]
    assert list(select_frames(10, 1, 12)) == []
    with pytest.raises(ValueError):
        select_frames(10, 0)


def test_gif_and_resized_panel(scene, tmp_path):
    kp, poses, valid = scene
    out = tmp_path / "clip.gif"
    # viz_size 160 < 240: the video panel is scaled, keypoints with it.
    stats = render_video(grey_frames(), out, kp, poses, valid, 25.0, viz_size=160, viz_limit=6,
                         progress=False)
    frames, _ = decode(out)
    assert stats.codec == "gif"
    assert len(frames) == stats.frames == 6
    assert frames[0].shape == (160, round(W * 160 / H / 2) * 2 + 160, 3)
    s = 160 / H
    centre = limb_shades(person_colors(2)[0])[0]
    assert near(frames[4], (midpoint(kp[0, 4], 0, 7) + 0.5) * s - 0.5, centre) < 40
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.gif"]


def test_custom_colors(scene, tmp_path):
    kp, poses, valid = scene
    out = tmp_path / "c.mp4"
    render_video(grey_frames(4), out, kp, poses, valid, 25.0, viz_size=VIZ, colors=[(0, 255, 0)],
                 progress=False)
    frames, _ = decode(out)
    assert near(frames[1], midpoint(kp[0, 1], 0, 7), (0, 255, 0)) < 40
    assert near(frames[1], midpoint(kp[1, 1], 0, 7), (0, 255, 0)) < 40  # colours cycle


def _assert_one_line(err: PoseliftError) -> None:
    assert "\n" not in str(err) and str(err)


def test_unwritable_output_raises_and_leaves_nothing(scene, tmp_path):
    kp, poses, valid = scene
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with pytest.raises(PoseliftError) as e:
        render_video(grey_frames(), blocker / "out.mp4", kp, poses, valid, 25.0, progress=False)
    _assert_one_line(e.value)
    with pytest.raises(PoseliftError) as e:
        render_video(grey_frames(), tmp_path / "missing" / "out.mp4", kp, poses, valid, 25.0, progress=False)
    _assert_one_line(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_dir"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_dir(scene, tmp_path):
    kp, poses, valid = scene
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PoseliftError) as e:
            render_video(grey_frames(), ro / "out.mp4", kp, poses, valid, 25.0, progress=False)
        _assert_one_line(e.value)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_interrupted_render_leaves_no_file(scene, tmp_path):
    kp, poses, valid = scene

    def failing():
        for i, f in enumerate(grey_frames()):
            if i == 5:
                raise KeyboardInterrupt
            yield f

    with pytest.raises(KeyboardInterrupt):
        render_video(failing(), tmp_path / "out.mp4", kp, poses, valid, 25.0, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_bad_extension_and_shapes(scene, tmp_path):
    kp, poses, valid = scene
    with pytest.raises(PoseliftError) as e:
        render_video(grey_frames(), tmp_path / "out.avi", kp, poses, valid, 25.0, progress=False)
    _assert_one_line(e.value)
    with pytest.raises(ValueError):
        render_video(grey_frames(), tmp_path / "out.mp4", kp[:, :, :15], poses, valid, 25.0, progress=False)
    with pytest.raises(PoseliftError):  # everything skipped
        render_video(grey_frames(), tmp_path / "out.mp4", kp, poses, valid, 25.0, viz_skip=T, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_trajectories_and_frame_objects(tmp_path):
    """People placed by their root trajectories; frames given as objects with ``.image``."""

    class F:
        def __init__(self, image):
            self.image = image

    kp, poses, valid, roots = demo_sequence(8, W, H, num_people=2)
    out = tmp_path / "traj.mp4"
    stats = render_video((F(f) for f in grey_frames(8)), out, kp, poses, valid, 25.0, viz_size=VIZ,
                         trajectories=roots, progress=False)
    frames, _ = decode(out)
    assert stats.frames == len(frames) == 8
    panel = frames[3][:, W:].astype(float)
    assert (np.abs(panel - panel[5:10, 5:10].mean((0, 1))).max(-1) > 60).sum() > 200
    with pytest.raises(ValueError):
        render_video(grey_frames(8), out, kp, poses, valid, 25.0, trajectories=roots[:1], progress=False)


def _pitched_scene(num_t: int = 12):
    """Two people 1.5 m apart standing on a floor 1.6 m below a camera pitched 25 degrees down."""
    from poselift.data.synth import look_at
    from poselift.geometry.world import place_in_world

    kp0, poses0, valid, _ = demo_sequence(num_t, W, H, num_people=2)
    # demo poses are camera-frame for a level camera: make them world (Z up) standing people
    rest = poses0 * np.array([1, 1, 1])
    world_zup = np.stack([rest[..., 0], -rest[..., 2], -rest[..., 1]], -1)
    world_zup[..., 2] -= world_zup[..., 2].min() - 0.08
    world_zup[0, ..., 0] -= 0.75
    world_zup[1, ..., 0] += 0.75
    world_zup[..., 1] += 4.0
    eye = np.array([0.0, 0.0, 1.6])
    R = look_at(eye, np.array([0.0, 4.0, 1.6 - 4.0 * np.tan(np.radians(25))]), 0.0)
    cam = (world_zup - eye) @ R.T
    poses, roots = cam - cam[:, :, :1], cam[:, :, 0]
    kp = 300 * cam[..., :2] / cam[..., 2:] + np.array([W / 2, H / 2])
    placed = place_in_world(poses, roots, valid, 25.0)
    return kp, poses, roots, valid, placed


def test_world_display_is_upright_with_true_spacing():
    from poselift.render import display_points

    kp, poses, roots, valid, placed = _pitched_scene()
    pts = display_points(poses, placed.trajectory, placed.frame.matrix, kp, valid)
    head, pelvis = pts[:, :, 10], pts[:, :, 0]
    spine = head - pelvis
    tilt = np.degrees(np.arctan2(np.linalg.norm(spine[..., :2], axis=-1), spine[..., 2]))
    assert tilt.max() < 8, tilt.max()                                   # upright in the world
    cam_tilt = display_points(poses, roots, None, kp, valid)
    s2 = cam_tilt[:, :, 10] - cam_tilt[:, :, 0]
    assert np.degrees(np.arctan2(np.linalg.norm(s2[..., :2], axis=-1), s2[..., 2])).min() > 15  # camera's up leans
    gap = np.linalg.norm(pelvis[1] - pelvis[0], axis=-1)
    assert np.abs(gap - 1.5).max() < 0.1                                # their true spacing
    feet = np.minimum(pts[:, :, 3, 2], pts[:, :, 6, 2])
    assert np.abs(np.median(feet) - 0.08) < 0.03                        # on the floor


def test_view_options_labels_and_legend(tmp_path):
    kp, poses, roots, valid, placed = _pitched_scene()
    kw = dict(trajectories=placed.trajectory, camera_to_world=placed.frame.matrix, viz_size=VIZ, progress=False)
    panels = {}
    for name, extra in (("default", {}), ("az90", {"azimuth": 90.0}), ("cam", {"camera_view": True}),
                        ("cam_explicit", {"azimuth": 0.0, "elevation": 25.0}), ("follow", {"framing": "follow"})):
        out = tmp_path / f"{name}.mp4"
        render_video(grey_frames(12), out, kp, poses, valid, 25.0, **kw, **extra)
        frames, _ = decode(out)
        panels[name] = frames[3][:, W:].astype(float)
    assert np.abs(panels["default"] - panels["az90"]).mean() > 2
    # the camera view looks from the camera: azimuth 0, elevation = its 25 degree pitch
    # (only the view description text in the corner differs)
    body = (slice(0, VIZ - 30), slice(None))
    assert np.abs(panels["cam"][body] - panels["cam_explicit"][body]).mean() < 1.0
    assert np.abs(panels["cam"] - panels["default"]).mean() > 2
    with pytest.raises(ValueError):
        render_video(grey_frames(2), tmp_path / "x.mp4", kp, poses, valid, 25.0, framing="zoom", progress=False)
    # person labels in the person's colour above the head in the 2D panel, legend in the 3D panel
    frames, _ = decode(tmp_path / "default.mp4")
    img = frames[3].astype(float)
    base = np.array(person_colors(2)[0], float)
    head = kp[0, 3, 10]
    top = int(np.nanmin(kp[0, 3, :, 1]))
    box = img[max(0, top - 30):top, int(head[0]) - 25:int(head[0]) + 25]
    assert (np.linalg.norm(box - base, axis=-1) < 60).sum() > 5, "no P0 label above person 0"
    legend = panels["default"][:40, :120]
    assert (np.linalg.norm(legend - base, axis=-1) < 60).sum() > 5, "no legend entry in person 0's colour"
