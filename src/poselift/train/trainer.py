"""Training of pose and trajectory lifters on mocap projected through virtual or Human3.6M cameras.

Recipe (VideoPose3D's where it applies): dilated temporal model trained on chunks of
consecutive frames (all outputs of a chunk supervised at once), Adam with AMSGrad,
exponential learning-rate decay per epoch, batch-norm momentum decayed from 0.1 to
0.001 over training, horizontal-flip augmentation. Because the 2D input is generated
on the fly (a new camera and new detector noise for every chunk), an "epoch" is a
fixed number of chunks (``epoch_size``) rather than a pass over a dataset.

Semi-supervised training (paper, section 4): a labelled subset trains pose and
trajectory models with 3D supervision; unlabelled sequences contribute a
back-projection loss (predicted pose + trajectory projected to 2D against the 2D
input) and a bone-length loss tying the unlabelled predictions' mean bone lengths to
the labelled ones'; the unsupervised terms start after ``warmup`` epochs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import queue
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from poselift.data.keypoint_style import KEYPOINT_STYLES
from poselift.data.synth import CameraBatch, DetectorNoise, VirtualCamera, sample_cameras
from poselift.geometry.cameras import h36m_cameras, quaternion_to_matrix
from poselift.geometry.intrinsics import pixels_to_rays
from poselift.geometry.skeletons import (H36M17, H36M_BONE_LENGTHS, bone_lengths, coco17_to_h36m17,
                                        enforce_bone_lengths)
from poselift.lift.inference import decode_trajectory, scaled_rays
from poselift.lift.model import ModelConfig, build_model

H36M_TRAIN = ("S1", "S5", "S6", "S7", "S8")
SEMI_2D_WEIGHT = 2.29
# Normalised 2D units are the person's RMS joint spread, about 0.3 m of body: this
# weight makes a shape error cost about what the same error costs in the 3D loss (m).
SEMI_2D_NORMALIZED_WEIGHT = 0.3


@dataclass
class TrainConfig:
    """Everything that defines a training run (recorded in the model card)."""

    architecture: str = "3,3,3,3"
    channels: int = 256
    dropout: float = 0.25
    causal: bool = False
    dense: bool = False
    lr: float = 1e-3
    lr_decay: float = 0.95
    epochs: int = 20
    batch_size: int = 64          # chunks per batch
    chunk: int = 32               # output frames per chunk
    epoch_size: int = 20000       # chunks per epoch
    cameras: str = "virtual"      # virtual | h36m
    h36m_camera_share: float = 0.0  # virtual cameras: share of Human3.6M chunks seen by their subject's real rig
    noise: str = "detector"       # detector | clean
    augment: bool = True          # flip augmentation
    fps: float = 50.0
    downsample: int = 1
    subset: float = 1.0
    kind: str = "pose"            # pose | trajectory
    semi_supervised: bool = False
    warmup: int = 1
    seed: int = 1234
    threads: int = 0
    time_limit_min: float = 0.0
    val_chunks: int = 256
    init: str = ""                # start from this poselift model's weights (fine-tuning)
    input_norm: str = "focal_scaled"  # focal | focal_scaled (see lift.inference.normalize_input)
    bn_calibration_batches: int = 24  # batches re-estimating batch-norm statistics after each epoch
    semi_2d: str = "normalized"   # normalized (default, measured better) | absolute (the paper's)
    keypoint_style: str = "blazepose"  # detector keypoint definitions for --noise detector (see data.keypoint_style)
    style_prob: float = 0.75      # share of chunks in the detector's style (the rest: joint centres)
    keypoint_definition_input: bool = False  # a third input feature: 1 on detector-style chunks, 0 on joint centres
    velocity_weight: float = 0.0  # weight of the velocity (MPJVE) term of the pose loss
    lr_schedule: str = "epoch"    # epoch: lr * lr_decay**epoch | time: exponential in elapsed/time_limit
    lr_final: float = 0.01        # with --lr-schedule time: final learning rate / initial
    compile: bool = False         # torch.compile the training forward pass
    prefetch: bool = False        # draw the next batch in a thread while the network trains on this one
    pose_balance: float = 0.0     # > 0: chunks centred on rare poses drawn more often (pose_rarity_weights)
    leg_length: float = 0.0       # > 0: every clip rescaled to this hip-to-ankle length, metres (see rescale_bodies)
    retarget: str = "none"        # none | h36m: every clip given the Human3.6M skeleton's bone lengths (retarget_bodies)
    ema: float = 0.0              # > 0: save an exponential moving average of the weights, this decay per step

    @property
    def widths(self) -> list[int]:
        return [int(w) for w in self.architecture.split(",")]


@dataclass
class Clip:
    """Training motion: ``positions (T, 17, 3)`` metres, Z-up world; optional H36M subject."""

    name: str
    positions: np.ndarray
    subject: str = ""
    dataset: str = ""


#: ``H36M_BONE_LENGTHS`` (now in :mod:`poselift.geometry.skeletons`, imported here as before): the
#: exp-map release puts every subject on this one skeleton (spread over all shared frames 1e-5 m).
#: Hip-to-ankle length (thigh + shin, metres) of that skeleton, 0.8971: taken from the table so
#: that ``--leg-length`` and ``--retarget h36m`` give a body the same size.
H36M_LEG_LENGTH = H36M_BONE_LENGTHS[1] + H36M_BONE_LENGTHS[2]


def leg_length(positions: np.ndarray) -> float:
    """Median thigh + shin length of both legs of ``positions (T, 17, 3)``, metres."""
    legs = [i for i, (_, child) in enumerate(H36M17.bones) if child in (2, 3, 5, 6)]  # knees, ankles
    return float(np.median(0.5 * bone_lengths(np.asarray(positions, np.float64))[:, legs].sum(-1)))


def rescale_bodies(clips: list[Clip], leg_m: float) -> list[Clip]:
    """Every clip scaled about the world origin (pose and path alike) so its legs measure ``leg_m``.

    The collections come on rigs of different sizes: the CMU clips are retargeted onto
    the DAZ figure (0.84 m legs), the Bandai-Namco rig has 0.78 m legs, Human3.6M's
    skeleton 0.90 m. A lifter cannot see a person's size in the 2D, so it predicts the
    size its data averages to; the shared mix averages 0.854 m over its frames, and the
    bodies it lifts come out small (and, for the root solve, too close). Rescaling gives
    one size prior; ``leg_m <= 0`` leaves the clips as captured.
    """
    if leg_m <= 0:
        return clips
    out = []
    for c in clips:
        k = leg_m / max(leg_length(c.positions), 1e-6)
        out.append(Clip(c.name, (c.positions * k).astype(c.positions.dtype), c.subject, c.dataset))
    return out




def retarget_bodies(clips: list[Clip], skeleton: str) -> list[Clip]:
    """Every clip put on one skeleton: its bone directions kept, its bone lengths replaced.

    The collections do not only differ in size (:func:`rescale_bodies`): their rigs place the
    joints differently. Against Human3.6M's skeleton, Bandai-Namco's shoulders sit 28 % closer
    to the neck and its thighs are 16 % shorter, CMU's spine is 14 % longer. A lifter trained on
    the mix sees one 2D shape paired with several 3D answers and predicts their average, a
    skeleton no person has. ``skeleton="h36m"`` gives every clip the Human3.6M bone lengths,
    the definition the H36M-17 output and the standard protocols use. The clip is first scaled
    about the world origin to the skeleton's leg length (so its root path and floor contact scale
    alike), then rebuilt from the pelvis outwards. ``"none"`` leaves the clips as captured.
    """
    if skeleton == "none":
        return clips
    if skeleton != "h36m":
        raise ValueError(f"unknown skeleton {skeleton!r} (none, h36m)")
    lengths = np.concatenate([[0.0], H36M_BONE_LENGTHS])
    out = []
    for c in rescale_bodies(clips, H36M_LEG_LENGTH):
        pos = enforce_bone_lengths(c.positions.astype(np.float64), H36M17, lengths)
        out.append(Clip(c.name, pos.astype(c.positions.dtype), c.subject, c.dataset))
    return out


def heading_free_poses(positions: np.ndarray) -> np.ndarray:
    """Root-relative poses ``(T, 17, 3)`` (Z up) turned about the vertical so that the hips
    point along +X: what a pose is, whichever way the person faces or wherever they stand."""
    x = np.asarray(positions, np.float64)
    x = x - x[:, :1]
    lat = x[:, 4, :2] - x[:, 1, :2]                                    # right hip -> left hip, ground plane
    a = -np.arctan2(lat[:, 1], lat[:, 0])
    c, s = np.cos(a)[:, None], np.sin(a)[:, None]
    out = x.copy()
    out[..., 0], out[..., 1] = c * x[..., 0] - s * x[..., 1], s * x[..., 0] + c * x[..., 1]
    return out


def pose_rarity_weights(positions: np.ndarray, power: float, clusters: int = 64, seed: int = 0,
                        sample: int = 20000, cap: float = 10.0) -> np.ndarray:
    """Per-frame sampling weights ``(T,)`` (mean 1) that favour rare poses.

    Frames are grouped by pose: ``clusters`` centres spread over the poses of ``sample``
    frames by farthest-point sampling (on :func:`heading_free_poses`), each frame in the
    group of its nearest centre. Each frame weighs ``(share of its group) ** -power``,
    capped at ``cap`` times the mean: ``power`` 0 keeps frames equal, 1 gives every group
    the same share of the chunks, 0.5 is between. The centres are not moved towards the
    groups' means (k-means would put most of them where most frames are, among the
    standing poses, and balance little).

    Why: the mocap is mostly people standing and walking; sitting, kneeling, bending and
    reaching are a few per cent of the frames, and a network trained on too few samples to
    converge learns the common poses first. Where the shared Human3.6M subject S8 is
    worst (``purchases``, ``sittingdown``: 87-100 mm against 49-54 mm for walking and
    directions) the subject sits or bends with the thighs near horizontal.
    """
    x = heading_free_poses(positions).reshape(len(positions), -1)
    rng = np.random.default_rng(seed)
    fit = x[rng.choice(len(x), size=min(sample, len(x)), replace=False)]
    chosen = [int(rng.integers(len(fit)))]
    dist = ((fit - fit[chosen[0]]) ** 2).sum(1)
    for _ in range(min(clusters, len(fit)) - 1):
        if dist.max() <= 1e-12:            # every pose already has its centre
            break
        chosen.append(int(dist.argmax()))
        dist = np.minimum(dist, ((fit - fit[chosen[-1]]) ** 2).sum(1))
    centres = fit[chosen]

    def assign(a: np.ndarray) -> np.ndarray:
        out = np.empty(len(a), np.int64)
        for s in range(0, len(a), 50000):
            b = a[s: s + 50000]
            d = (b * b).sum(1)[:, None] - 2 * b @ centres.T + (centres * centres).sum(1)[None]
            out[s: s + 50000] = d.argmin(1)
        return out

    lab = assign(x)
    share = np.bincount(lab, minlength=len(centres)) / len(lab)
    w = share[lab] ** -power
    for _ in range(20):                    # cap, renormalise, until the cap holds at mean 1
        w = w / w.mean()
        if w.max() <= cap * (1 + 1e-6):
            break
        w = np.minimum(w, cap)
    return w


def _h36m_virtual(subject: str) -> list[VirtualCamera]:
    cams = []
    for cam in h36m_cameras(subject):
        # Human3.6M orientation rotates camera->world; we need world->camera.
        R = quaternion_to_matrix(np.asarray(cam.orientation)).T
        cams.append(VirtualCamera(R=R, C=np.asarray(cam.translation), f=float(np.mean(cam.focal_length)),
                                  c=np.asarray(cam.center), width=cam.res_w, height=cam.res_h))
    return cams


def _rigs(subjects: set[str]) -> dict[str, list[VirtualCamera]]:
    """The Human3.6M cameras of each subject that has published ones."""
    out = {}
    for s in sorted(subjects):
        try:
            out[s] = _h36m_virtual(s)
        except (KeyError, ValueError):
            pass
    return out


class ChunkSampler:
    """Draws training chunks: 2D input (normalised rays), 3D targets in the camera frame.

    A whole batch is made at once with array operations (windows gathered from one
    array of all clips, one camera per chunk, the detector's keypoint style, detector
    noise and the running medians of ``focal_scaled`` input), so the batch generator
    costs a few per cent of a training step rather than as much as the step itself.
    """

    def __init__(self, clips: list[Clip], cfg: TrainConfig, receptive_field: int, seed: int,
                 frame_weights: np.ndarray | None = None) -> None:
        if not clips:
            raise ValueError("no training clips")
        self.clips = clips
        self.cfg = cfg
        self.rf = receptive_field
        self.rng = np.random.default_rng(seed)
        self.lengths = np.array([len(c.positions) for c in clips], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.positions = np.concatenate([c.positions for c in clips]).astype(np.float64)
        self.p = self.lengths / self.lengths.sum()
        self.noise = DetectorNoise() if cfg.noise == "detector" else None
        self.style = KEYPOINT_STYLES[cfg.keypoint_style] if cfg.noise == "detector" else None
        self._h36m_cams = _rigs({c.subject for c in clips}) if cfg.cameras == "h36m" or cfg.h36m_camera_share > 0 \
            else {}
        self._has_rig = np.array([c.subject in self._h36m_cams for c in clips])
        self._flip = H36M17.flip_permutation()
        # With pose balance, a chunk is placed around a frame drawn by its pose's rarity
        # (``frame_weights``: the weights of these clips, already computed by another sampler).
        self.frame_weights = self._frame_p = None
        if cfg.pose_balance > 0:
            w = frame_weights if frame_weights is not None else \
                pose_rarity_weights(self.positions, cfg.pose_balance, seed=cfg.seed)
            if len(w) != len(self.positions):
                raise ValueError(f"{len(w)} frame weights for {len(self.positions)} frames")
            self.frame_weights, self._frame_p = w, np.cumsum(w) / w.sum()

    def windows(self, n: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` random windows ``(n, length, 17, 3)`` of consecutive frames (edge-padded
        when a clip is shorter) and the clip index of each."""
        if self._frame_p is None:
            idx = self.rng.choice(len(self.clips), size=n, p=self.p)
            t = self.lengths[idx]
            long_enough = t >= length
            start = np.where(long_enough, self.rng.integers(0, np.maximum(t - length, 0) + 1),
                             -self.rng.integers(0, np.maximum(length - t, 0) + 1))
        else:
            g = np.minimum(np.searchsorted(self._frame_p, self.rng.random(n), side="right"), len(self._frame_p) - 1)
            idx = np.searchsorted(self.starts, g, side="right") - 1
            t = self.lengths[idx]
            centre = g - self.starts[idx]
            # The drawn frame anywhere in the chunk's output frames, the window inside its clip.
            first_out = self.rf - 1 if self.cfg.causal else self.rf // 2
            start = centre - first_out - self.rng.integers(0, self.cfg.chunk, size=n)
            start = np.where(t >= length, np.clip(start, 0, np.maximum(t - length, 0)),
                             -self.rng.integers(0, np.maximum(length - t, 0) + 1))
        frames = np.clip(start[:, None] + np.arange(length)[None], 0, t[:, None] - 1) + self.starts[idx][:, None]
        return self.positions[frames], idx

    def _rig(self, idx: np.ndarray) -> CameraBatch:
        """One of the real Human3.6M cameras of each chunk's subject (S1's for others)."""
        cams = []
        for i in idx:
            subj = self._h36m_cams.get(self.clips[i].subject) or self._h36m_cams.get("S1") or _h36m_virtual("S1")
            cams.append(subj[int(self.rng.integers(len(subj)))])
        return CameraBatch(R=np.stack([c.R for c in cams]), C=np.stack([c.C for c in cams]),
                           f=np.array([c.f for c in cams]), c=np.stack([c.c for c in cams]),
                           size=np.array([[c.width, c.height] for c in cams], dtype=np.float64))

    def cameras(self, idx: np.ndarray, win: np.ndarray) -> CameraBatch:
        if self.cfg.cameras == "h36m":
            return self._rig(idx)
        cams = sample_cameras(self.rng, win)
        if self.cfg.h36m_camera_share > 0 and self._h36m_cams:
            # Real lab rigs (elevated, looking down, one lens) alongside the random ones: only
            # for clips captured in that rig, so the person stands where its cameras look.
            use = np.flatnonzero(self._has_rig[idx] & (self.rng.random(len(idx)) < self.cfg.h36m_camera_share))
            if len(use):
                rig = self._rig(idx[use])
                for f in ("R", "C", "f", "c", "size"):
                    getattr(cams, f)[use] = getattr(rig, f)
        return cams

    def keypoints(self, cams: CameraBatch, x_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels ``(n, L, 17, 2)`` of camera-frame joints: the projected joints, or, for a
        ``style_prob`` share of the chunks, the detector's keypoints (see
        :mod:`poselift.data.keypoint_style`) projected and turned into the Human3.6M-17
        input exactly as inference turns BlazePose landmarks into it; and which chunks
        ``(n,)`` bool are in the detector's style."""
        kp = cams.project(x_cam)
        if self.style is None or self.cfg.style_prob <= 0:
            return kp, np.zeros(len(x_cam), bool)
        use = self.rng.random(len(x_cam)) < self.cfg.style_prob
        if use.any():
            styled = coco17_to_h36m17(cams.project(self.style.apply(x_cam, self.rng)))
            kp[use] = styled[use]
        return kp, use

    def _visible_chunks(self, n: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, CameraBatch]:
        """Camera-frame joints ``(n, length, 17, 3)``, their 2D, whether each chunk's 2D is
        in the detector's style and the cameras, for chunks whose person stays in front of
        the camera and near the frame.

        A travelling clip sometimes walks past a randomly placed camera; those few chunks
        (about 1 in 1000) have joints behind the lens, inputs hundreds of times larger than
        any real video gives, and they wreck the batch-norm statistics. They are redrawn.
        """
        ys, kps, styles, cam_parts = [], [], [], []
        need = n
        for _ in range(20):
            win, idx = self.windows(need, length)
            if self.cfg.augment:
                flip = np.flatnonzero(self.rng.random(need) < 0.5)
                win[flip] = win[flip][:, :, self._flip] * np.array([-1.0, 1.0, 1.0])
            cams = self.cameras(idx, win)
            y = cams.to_camera(win)
            kp, styled = self.keypoints(cams, y)
            size = cams.size[:, None, None]
            ok = (y[..., 2] > 0.3).all(axis=(1, 2)) & ((kp > -0.5 * size) & (kp < 1.5 * size)).all(axis=(1, 2, 3))
            keep = np.flatnonzero(ok)
            ys.append(y[keep])
            kps.append(kp[keep])
            styles.append(styled[keep])
            cam_parts.append(CameraBatch(cams.R[keep], cams.C[keep], cams.f[keep], cams.c[keep], cams.size[keep]))
            need -= len(keep)
            if need <= 0:
                break
        else:
            raise ValueError("could not place virtual cameras that see the training motion")
        cat = lambda a: np.concatenate(a)[:n]  # noqa: E731
        cams = CameraBatch(*(cat([getattr(c, f) for c in cam_parts]) for f in ("R", "C", "f", "c", "size")))
        return cat(ys), cat(kps), cat(styles), cams

    def sample(self, n: int) -> dict[str, torch.Tensor]:
        """``n`` chunks: ``inputs (n, L+rf-1, 17, 2)``, ``target (n, L, 17, 3)`` root-relative,
        ``root (n, L, 3)`` camera-frame root, metres; ``rays (n, L, 17, 2)`` the
        focal-normalised 2D of the output frames and ``scale (n, L)`` the person's 2D size
        used by ``focal_scaled`` input (ones for ``focal``). With
        ``keypoint_definition_input`` the inputs have a third feature, the chunk's keypoint
        definition (1 detector style, 0 joint centres; see
        :data:`poselift.lift.inference.KEYPOINT_DEFINITIONS`)."""
        length = self.cfg.chunk + self.rf - 1
        y, kp, styled, cams = self._visible_chunks(n, length)
        if self.noise is not None:
            kp, _ = self.noise.batch(self.rng, kp)
        r = pixels_to_rays(kp, focal_px=cams.f[:, None, None, None], center_px=cams.c[:, None, None],
                           dtype=np.float32)
        if self.cfg.input_norm == "focal_scaled":
            # Everything (targets, root, rays) lives in the virtual camera that looks at
            # the person; see lift.inference.scaled_rays.
            si = scaled_rays(r, self.rf, self.cfg.causal)
            x, r, scale = si.x, si.rays, si.scale
            y = np.matmul(y, si.R.astype(np.float64))               # R^T X per joint
        else:
            x, scale = r, np.ones(r.shape[:2], np.float32)
        if self.cfg.keypoint_definition_input:
            flag = np.broadcast_to(styled[:, None, None, None], x.shape[:-1] + (1,)).astype(x.dtype)
            x = np.concatenate([x, flag], axis=-1)
        off = self.rf // 2 if not self.cfg.causal else self.rf - 1
        sl = slice(off, off + self.cfg.chunk)
        yt = torch.from_numpy(y[:, sl].astype(np.float32))
        return {"inputs": torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                "target": yt - yt[:, :, :1], "root": yt[:, :, 0],
                "rays": torch.from_numpy(np.ascontiguousarray(r[:, sl], dtype=np.float32)),
                "scale": torch.from_numpy(np.ascontiguousarray(scale[:, sl], dtype=np.float32))}


class BatchPrefetcher:
    """The batches of one epoch, each drawn in a background thread while the network
    trains on the one before.

    Why: drawing a batch is NumPy work (about a third of a step at 32-frame chunks on two
    CPU cores) during which a GPU would idle. On the CPU the thread competes with the
    network's own threads for the same cores: measured on 2 cores, 64 x 32-frame chunks,
    380 ms per step either way, hence off by default. The thread alone uses the samplers,
    in order, so the batches are exactly the ones a serial loop draws.
    :meth:`close` stops it (at the time limit or an interrupt) without waiting for the rest.
    """

    def __init__(self, make: Callable[[], Any], count: int, depth: int = 2) -> None:
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()

        def work() -> None:
            try:
                for _ in range(count):
                    item = make()
                    while not self._stop.is_set():
                        try:
                            self._q.put(("ok", item), timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if self._stop.is_set():
                        return
            except BaseException as exc:   # handed to the training thread, which raises it
                self._q.put(("error", exc))

        self._thread = threading.Thread(target=work, name="poselift-batches", daemon=True)
        self._thread.start()

    def next(self) -> Any:
        kind, item = self._q.get()
        if kind == "error":
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._q.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()


def _decode_root(raw: torch.Tensor, batch: dict[str, torch.Tensor], input_norm: str) -> torch.Tensor:
    """Trajectory network output ``(N, L, 3)`` -> camera-frame root ``(N, L, 3)`` metres."""
    scale = batch["scale"].to(raw.device) if input_norm == "focal_scaled" else None
    return decode_trajectory(raw, batch["rays"][:, :, 0].to(raw.device), scale)


def _forward_both(net: torch.nn.Module, x: torch.Tensor,
                  ux: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``net`` on labelled ``x`` and, when given, unlabelled ``ux`` in one forward pass
    (as in the paper's code), so batch-norm statistics describe both."""
    if ux is None:
        return net(x), None
    both = net(torch.cat([x, ux]))
    return both[: len(x)], both[len(x):]


def _shape_2d(p: torch.Tensor) -> torch.Tensor:
    """2D joints ``(..., J, 2)`` centred on the root and divided by their RMS spread.

    The ``normalized`` back-projection loss compares these, so an error of the
    trajectory network (a depth off by 5-10 % scales the projection; an offset moves it)
    is not pushed into the pose: only the projected shape must match the 2D input.
    """
    c = p - p[..., :1, :]
    return c / c.pow(2).sum(-1).mean(-1, keepdim=True).sqrt().clamp(min=1e-6)[..., None]


def trajectory_parameterization(input_norm: str) -> str:
    return "ray_logsize" if input_norm == "focal_scaled" else "ray_logdepth"


def mpjpe_t(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.linalg.norm(pred - target, dim=-1).mean()


def weighted_root_loss(pred: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
    """Trajectory loss weighted by 1/depth: far people are allowed larger absolute error."""
    w = 1.0 / root[..., 2].clamp(min=0.5)
    return (w * torch.linalg.norm(pred - root, dim=-1)).mean()


def bone_lengths_t(x: torch.Tensor) -> torch.Tensor:
    parents = [p for p in H36M17.parents[1:]]
    return torch.linalg.norm(x[..., 1:, :] - x[..., parents, :], dim=-1)


def init_from(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Load ``state`` into ``model``; returns the names left at their fresh values.

    A pose model's backbone can start a trajectory model (same layers, one output joint
    instead of 17): only tensors whose shapes differ may be skipped, and only those of the
    final (output) layer, so a wrong architecture still fails loudly instead of training
    from a half-loaded network.
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError("--init model does not match the architecture: "
                         f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    differ = [k for k in own if own[k].shape != state[k].shape]
    # ``shrink`` is the output convolution in VideoPose3D's layout (which ours keeps).
    bad = [k for k in differ if not k.startswith("shrink.")]
    if bad:
        raise ValueError(f"--init model does not match the architecture: {bad[0]} is "
                         f"{tuple(state[bad[0]].shape)}, expected {tuple(own[bad[0]].shape)}")
    model.load_state_dict({k: (own[k] if k in differ else state[k]) for k in own})
    return differ


def add_input_feature(state: dict[str, torch.Tensor], num_joints: int) -> dict[str, torch.Tensor]:
    """A state dict taking ``(x, y)`` per joint -> one taking ``(x, y, extra)`` that computes
    the same function whatever ``extra`` is: the new feature's input weights are zero.

    Convention: the first convolution sees the joints' features interleaved, joint by
    joint (``reshape(N, T, J * F)``), so the new column of joint ``j`` is ``3 j + 2``.
    Used by ``--init`` to start a keypoint-definition model from one without the input.
    """
    w = state["expand_conv.weight"]                          # (C, J * 2, W)
    if w.shape[1] != 2 * num_joints:
        raise ValueError(f"expected {2 * num_joints} input columns, got {w.shape[1]}")
    c, _, k = w.shape
    new = torch.zeros(c, num_joints, 3, k, dtype=w.dtype)
    new[:, :, :2] = w.reshape(c, num_joints, 2, k)
    return {**state, "expand_conv.weight": new.reshape(c, 3 * num_joints, k)}


def widen_state(state: dict[str, torch.Tensor], channels: int, *, noise: float = 0.01,
                seed: int = 0) -> dict[str, torch.Tensor]:
    """A narrower network's weights spread over ``channels`` channels, computing the same function.

    Net2WiderNet (Chen et al., ICLR 2016) for VideoPose3D's layout: every new channel copies
    an existing one (the first ``C`` keep their place, the rest copy channels drawn at
    random), batch-norm parameters and statistics are copied with it, and each layer that
    reads the widened activations divides the weights of a copied channel by how many copies
    it has, so the output is unchanged, in training mode (batch statistics) as in eval mode.
    Copies would then get identical gradients for ever; ``noise`` (relative to each tensor's
    standard deviation) on the copies' incoming weights lets them drift apart.

    Why: the shipped width (256) leaves the lifter under-fitting (training error no lower
    than validation error at the end of its schedule); widening lets a wider model start
    where the narrow one ended instead of from scratch.
    """
    c_old = int(state["expand_bn.weight"].shape[0])
    if channels < c_old:
        raise ValueError(f"cannot narrow a {c_old}-channel model to {channels} channels")
    gen = torch.Generator().manual_seed(seed)
    g = torch.cat([torch.arange(c_old), torch.randint(0, c_old, (channels - c_old,), generator=gen)])
    count = torch.bincount(g, minlength=c_old).to(torch.float32)[g]
    copies = torch.arange(channels) >= c_old

    def incoming(w: torch.Tensor) -> torch.Tensor:
        w = w.clone()
        if noise and copies.any():
            w[copies] += noise * w.std() * torch.randn(w[copies].shape, generator=gen, dtype=w.dtype)
        return w

    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        if k == "expand_conv.weight":
            out[k] = incoming(v[g])
        elif k.startswith("layers_conv."):
            out[k] = incoming(v[g][:, g] / count[None, :, None].to(v.dtype))
        elif k == "shrink.weight":
            out[k] = v[:, g] / count[None, :, None].to(v.dtype)
        elif (k.startswith("expand_bn.") or k.startswith("layers_bn.")) and v.ndim == 1:
            out[k] = v[g].clone()
        else:                              # shrink.bias, num_batches_tracked
            out[k] = v.clone()
    return out


@dataclass
class TrainResult:
    model_path: Path
    val_mpjpe_mm: float
    wall_time_s: float
    epochs_done: int
    history: list[dict[str, float]] = field(default_factory=list)


def initialisation_record(name: str, path: Path, card: dict[str, Any]) -> dict[str, Any]:
    """What a fine-tuned model's card says about the weights it started from.

    A fine-tune's wall time only means something with its parent's added, so the
    record carries the parent's command, its sha256 and its whole wall time (its own
    parent's included, for a chain of fine-tunes).
    """
    tr = card.get("training") or {}
    cmds = tr.get("commands") or ([tr["command"]] if tr.get("command") else [])
    parent = card.get("initialised_from") or {}
    wall = float(tr.get("wall_time_s") or 0.0) + float(parent.get("wall_time_s") or 0.0)
    rec: dict[str, Any] = {"model": name, "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
                           "command": " ; ".join(str(c) for c in cmds) or "(not recorded on its card)",
                           "wall_time_s": round(wall, 1)}
    if parent:
        rec["initialised_from"] = parent
    return rec


class WeightAverage:
    """An exponential moving average of a network's parameters, kept in a copy of it.

    After every optimiser step ``avg = d * avg + (1 - d) * live`` with ``d = min(decay,
    (1 + n) / (10 + n))`` at update ``n`` (the short warm-up keeps the first, far-off
    weights from lingering). Why: at the end of a time-limited run the validation error
    still moves by about 1 mm from one epoch to the next (``h36m``'s 41-min stage: 44.3,
    45.1, 44.5 mm over its last three epochs at a learning rate of 1e-5), i.e. the live
    weights are one draw around the minimum; their average over the last few thousand
    steps sits nearer its centre. Measured there with ``decay=0.999``: far better while the
    learning rate is high (49.1 against 54.0 mm after 12 of 48 epochs), equal once the time
    schedule has reached its tail (45.9 and 45.9 mm; full S8 P1 44.90 against 44.84 mm), so
    it pays for runs stopped early or kept at a high rate, not for the shipped recipes. Batch-norm statistics are not averaged: they are
    re-estimated for the averaged weights (:func:`recalibrate_batchnorm`), since
    statistics of other weights do not describe this network's activations.

    Args:
        model: the live network (the copy starts equal to it).
        decay: per-step factor ``d`` in (0, 1); ``1 / (1 - decay)`` steps is the horizon.
        updates: updates already done (a resumed run continues the warm-up where it was).
    """

    def __init__(self, model: torch.nn.Module, decay: float, updates: int = 0) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight-average decay must lie in (0, 1), got {decay}")
        self.decay, self.updates = float(decay), int(updates)
        self.model = copy.deepcopy(model)
        self.model.requires_grad_(False)

    def rate(self) -> float:
        """The decay the next update uses."""
        n = self.updates + 1
        return min(self.decay, (1.0 + n) / (10.0 + n))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        d = self.rate()
        avg = list(self.model.parameters())
        live = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(avg, live, 1.0 - d)
        self.updates += 1


@torch.no_grad()
def recalibrate_batchnorm(models: list[torch.nn.Module], samplers: list[ChunkSampler], batches: int,
                          batch_size: int, device: str = "cpu") -> None:
    """Re-estimate batch-norm running statistics as a plain average over fresh batches.

    The paper decays batch-norm momentum to 0.001 over training; with the few thousand
    steps a CPU budget allows, the running statistics then lag far behind the weights
    (measured: 171 mm instead of 96 mm validation MPJPE on a short run). Averaging over
    a few dozen batches with the final weights removes the lag.
    """
    bns = [m for net in models for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    for net in models:
        net.train()
    for _ in range(batches):
        x = torch.cat([s.sample(batch_size)["inputs"] for s in samplers]).to(device)
        for net in models:
            net(x)
    for m, mom in zip(bns, saved):
        m.momentum = mom


def _bn_momentum(progress: float) -> float:
    """Batch-norm momentum decayed from 0.1 to 0.001 over training (``progress`` 0..1)."""
    initial, final = 0.1, 0.001
    return initial * math.exp(-min(max(progress, 0.0), 1.0) * math.log(initial / final))


def training_progress(cfg: TrainConfig, epoch: int, elapsed_s: float) -> float:
    """How far through its schedule a run is, 0..1: by wall time with ``lr_schedule ==
    "time"`` (so the schedule's tail falls exactly at ``time_limit_min``, whatever speed
    the machine has), else by epoch."""
    if cfg.lr_schedule == "time":
        return min(max(elapsed_s / (cfg.time_limit_min * 60.0), 0.0), 1.0)
    return min(epoch / max(cfg.epochs, 1), 1.0)


def learning_rate(cfg: TrainConfig, epoch: int, elapsed_s: float) -> float:
    """The learning rate at ``epoch`` / ``elapsed_s`` seconds of training.

    ``epoch`` schedule: VideoPose3D's ``lr * lr_decay ** epoch``. ``time`` schedule: the
    same exponential shape laid over the time budget, ``lr * lr_final ** (elapsed /
    limit)``: it starts at ``lr`` and reaches ``lr * lr_final`` at the limit, so a run
    stopped by its time limit has had its low-learning-rate tail rather than being cut
    off half-way down the decay.
    """
    if cfg.lr_schedule == "time":
        return cfg.lr * cfg.lr_final ** training_progress(cfg, epoch, elapsed_s)
    return cfg.lr * cfg.lr_decay ** epoch


def pose_loss(pred: torch.Tensor, target: torch.Tensor, velocity_weight: float = 0.0) -> torch.Tensor:
    """MPJPE (metres) plus ``velocity_weight`` x the MPJVE of consecutive output frames."""
    loss = mpjpe_t(pred, target)
    if velocity_weight and pred.shape[1] > 1:
        loss = loss + velocity_weight * mpjpe_t(pred[:, 1:] - pred[:, :-1], target[:, 1:] - target[:, :-1])
    return loss


def batch_loss(cfg: TrainConfig, net: torch.nn.Module, traj_net: torch.nn.Module | None,
               b: dict[str, torch.Tensor], u: dict[str, torch.Tensor] | None,
               device: str | torch.device) -> torch.Tensor:
    """The training loss of one labelled batch ``b`` (and unlabelled batch ``u`` when
    semi-supervised), computed on ``device``: every tensor of both batches is moved there
    (the batches come from the CPU sampler; the networks live on ``device``)."""
    x = b["inputs"].to(device)
    ux = u["inputs"].to(device) if u is not None else None
    pred, up = _forward_both(net, x, ux)
    if cfg.kind == "trajectory":
        root = _decode_root(pred[:, :, 0], b, cfg.input_norm)
        loss = weighted_root_loss(root, b["root"].to(device))
    else:
        loss = pose_loss(pred, b["target"].to(device), cfg.velocity_weight)
    if traj_net is not None:
        traw, utraw = _forward_both(traj_net, x, ux)
        tr = _decode_root(traw[:, :, 0], b, cfg.input_norm)
        loss = loss + weighted_root_loss(tr, b["root"].to(device))
        if u is not None:
            ut = _decode_root(utraw[:, :, 0], u, cfg.input_norm)
            x3 = up + ut[:, :, None]
            proj = x3[..., :2] / x3[..., 2:].clamp(min=0.1)
            target_2d = u["rays"].to(device)
            if cfg.semi_2d == "normalized":
                loss_2d = SEMI_2D_NORMALIZED_WEIGHT * torch.linalg.norm(
                    _shape_2d(proj) - _shape_2d(target_2d), dim=-1).mean()
            else:
                # Rays x 2.29 = VideoPose3D's screen units for Human3.6M's cameras
                # (f = 1145 px, 1000 px wide), i.e. the paper's weighting.
                loss_2d = SEMI_2D_WEIGHT * torch.linalg.norm(proj - target_2d, dim=-1).mean()
            loss_len = (bone_lengths_t(up).mean(dim=(0, 1)) -
                        bone_lengths_t(pred).mean(dim=(0, 1)).detach()).abs().mean()
            loss = loss + loss_2d + loss_len
    return loss


def train(cfg: TrainConfig, clips: list[Clip], val_clips: list[Clip], out_path: Path, *,
          card: dict[str, Any] | None = None, checkpoint_dir: Path | None = None, resume: bool = False,
          checkpoint_every: int = 1, device: str = "cpu", unlabeled: list[Clip] | None = None,
          progress: bool = True, log: Callable[[str], None] = print) -> TrainResult:
    """Train one model and save it as a poselift ``.safetensors`` at ``out_path``.

    Checkpoints (``checkpoint_dir/last.pt``: state dicts, optimiser state, RNG state and
    history, all loadable with ``weights_only=True``) are written every
    ``checkpoint_every`` epochs and when interrupted (SIGINT/SIGTERM), so a stopped run
    resumes with ``resume=True`` and loses at most one epoch.
    """
    from tqdm import tqdm

    from poselift.lift.weights import save_model

    if cfg.lr_schedule not in ("epoch", "time"):
        raise ValueError(f"unknown learning-rate schedule {cfg.lr_schedule!r} (epoch or time)")
    if cfg.lr_schedule == "time" and not cfg.time_limit_min > 0:
        raise ValueError("the time learning-rate schedule needs a time limit (--time-limit MIN)")
    if cfg.keypoint_style not in KEYPOINT_STYLES:
        raise ValueError(f"unknown keypoint style {cfg.keypoint_style!r} ({', '.join(KEYPOINT_STYLES)})")
    if cfg.ema and not 0.0 < cfg.ema < 1.0:
        raise ValueError(f"the weight-average decay must lie in (0, 1), got {cfg.ema}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    from poselift.train.distributed import init_distributed

    ctx = init_distributed(device)
    device = ctx.device
    if not ctx.main:          # rank 0 speaks and writes for the group
        progress = False
        log = lambda s: None  # noqa: E731
    torch.manual_seed(cfg.seed)
    bodies = lambda cs: retarget_bodies(rescale_bodies(cs, cfg.leg_length), cfg.retarget)  # noqa: E731
    clips, val_clips = bodies(clips), bodies(val_clips)
    unlabeled = bodies(unlabeled) if unlabeled else unlabeled
    widths = cfg.widths
    j_out = 1 if cfg.kind == "trajectory" else 17
    in_features = 3 if cfg.keypoint_definition_input else 2
    mcfg = ModelConfig(17, in_features, j_out, widths, cfg.causal, cfg.dropout, cfg.channels, cfg.dense)
    model = build_model(mcfg).to(device)
    if cfg.init:
        from poselift.lift.weights import load_poselift_network, resolve_model_path

        init_path = resolve_model_path(cfg.init)
        init_model, init_card = load_poselift_network(init_path, backend="torch")
        init_record = initialisation_record(cfg.init, init_path, init_card)
        init_state = init_model.state_dict()
        narrow = int(init_state["expand_bn.weight"].shape[0])
        if narrow < cfg.channels:
            init_state = widen_state(init_state, cfg.channels, seed=cfg.seed)
            init_record["widened_from_channels"] = narrow
            log(f"--init {cfg.init}: widened from {narrow} to {cfg.channels} channels (function-preserving)")
        if in_features == 3 and init_state["expand_conv.weight"].shape[1] == 2 * 17:
            init_state = add_input_feature(init_state, 17)
            init_record["added_input"] = "keypoint_definition"
            log(f"--init {cfg.init}: keypoint-definition input added with zero weights (function-preserving)")
        skipped = init_from(model, init_state)
        if skipped:
            log(f"--init {cfg.init}: output layer(s) {', '.join(skipped)} start fresh (shapes differ)")
    traj_model = None
    traj_cfg = ModelConfig(17, in_features, 1, widths, cfg.causal, cfg.dropout, cfg.channels, cfg.dense)
    if cfg.semi_supervised:
        traj_model = build_model(traj_cfg).to(device)
    params = list(model.parameters()) + (list(traj_model.parameters()) if traj_model else [])
    opt = torch.optim.Adam(params, lr=cfg.lr, amsgrad=True)
    rf = model.receptive_field()
    # Each rank draws its own chunks (a different random stream per rank).
    rank_seed = cfg.seed + 100_003 * ctx.rank
    sampler = ChunkSampler(clips, cfg, rf, rank_seed)
    un_sampler = ChunkSampler(unlabeled, cfg, rf, rank_seed + 7) if (cfg.semi_supervised and unlabeled) else None
    # Validation chunks are drawn uniformly (no pose balance): the error of the motion as it is.
    val = ChunkSampler(val_clips or clips, TrainConfig(**{**asdict(cfg), "augment": False, "pose_balance": 0.0}), rf,
                       999).sample(cfg.val_chunks)

    start_epoch, history, elapsed_before = 0, [], 0.0
    # Every run of a model, resumes included, goes on its card in order.
    this_command = str((card or {}).get("training", {}).get("command", ""))
    commands = [this_command]
    ckpt_path = checkpoint_dir / "last.pt" if checkpoint_dir else None
    st: dict[str, Any] = {}
    if resume and ckpt_path and ckpt_path.is_file():
        st = torch.load(ckpt_path, map_location=device, weights_only=True)
        model.load_state_dict(st["model"])
        if traj_model is not None and "traj" in st:
            traj_model.load_state_dict(st["traj"])
        opt.load_state_dict(st["optimizer"])
        start_epoch, history = int(st["epoch"]), list(st["history"])
        elapsed_before = float(st["elapsed"])
        commands = [*st.get("commands", ["(an earlier run; its checkpoint predates command records)"]),
                    this_command]
        sampler.rng = np.random.default_rng(rank_seed + 1000 * start_epoch)
        log(f"resumed from {ckpt_path} at epoch {start_epoch}")
    # Weight averages of the networks that get saved (pose, and the trajectory network of a
    # semi-supervised run); they are what the run writes.
    averages: list[WeightAverage] = []
    if cfg.ema:
        nets = [("model", model)] + ([("traj", traj_model)] if traj_model is not None else [])
        for key, net in nets:
            avg = WeightAverage(net, cfg.ema)
            saved = st.get("ema", {}).get(key)
            if saved is not None:
                avg.model.load_state_dict(saved["state"])
                avg.updates = int(saved["updates"])
            elif start_epoch:
                log(f"the checkpoint holds no weight average for {key}: it starts from the resumed weights")
            averages.append(avg)

    stop = {"flag": False}

    def _handler(signum: int, frame: Any) -> None:
        stop["flag"] = True

    old = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    t0 = time.time()

    def save_ckpt(epoch: int) -> None:
        if not ckpt_path or not ctx.main:
            return
        ckpt_path.parent.mkdir(parents=True, exist_ok=True)
        st = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
              "history": history, "elapsed": elapsed_before + time.time() - t0, "config": asdict(cfg),
              "commands": commands}
        if traj_model is not None:
            st["traj"] = traj_model.state_dict()
        if averages:
            keys = ["model", "traj"][:len(averages)]
            st["ema"] = {k: {"state": a.model.state_dict(), "updates": a.updates} for k, a in zip(keys, averages)}
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(st, tmp)
        tmp.replace(ckpt_path)

    # An epoch is epoch_size chunks for the whole group: each of N ranks does 1/N of the steps.
    steps = max(cfg.epoch_size // (cfg.batch_size * ctx.world), 1)
    epoch = start_epoch
    timed = cfg.lr_schedule == "time"
    # The compiled (and, under torchrun, DistributedDataParallel) module shares its
    # parameters with `model`; only the training forward pass uses it (batch-norm
    # recalibration, validation and saving use `model`).
    fwd: torch.nn.Module = model
    traj_fwd = traj_model
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [ctx.local_rank] if device.startswith("cuda") else None
        fwd = DDP(model, device_ids=ids)
        traj_fwd = DDP(traj_model, device_ids=ids) if traj_model is not None else None
        log(f"data-parallel training on {ctx.world} processes ({'nccl' if ids else 'gloo'})")
    if cfg.compile:
        fwd = torch.compile(fwd)
    reached_limit = False

    def elapsed_now() -> float:
        return elapsed_before + time.time() - t0

    def set_schedule(ep: int, el: float | None = None) -> float:
        el = elapsed_now() if el is None else el
        lr = learning_rate(cfg, ep, el)
        for g in opt.param_groups:
            g["lr"] = lr
        if not cfg.bn_calibration_batches:
            # With recalibration the running statistics are re-estimated from scratch
            # before every use, so the momentum schedule would change nothing -- except
            # force torch.compile to recompile the network for every new value.
            mom = _bn_momentum(training_progress(cfg, ep, el))
            model.set_bn_momentum(mom)
            if traj_model is not None:
                traj_model.set_bn_momentum(mom)
        return lr

    try:
        for epoch in range(start_epoch, cfg.epochs):
            lr = set_schedule(epoch)
            model.train()
            if traj_model is not None:
                traj_model.train()
            losses = []
            bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress,
                       leave=False, unit="batch")
            with_u = traj_model is not None and un_sampler is not None and epoch >= cfg.warmup

            def draw() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
                return (sampler.sample(cfg.batch_size),
                        un_sampler.sample(cfg.batch_size) if with_u else None)  # type: ignore[union-attr]

            batches = BatchPrefetcher(draw, steps) if cfg.prefetch else None
            try:
                for step in bar:
                    # All ranks see the same clock and the same interrupt: same learning
                    # rate, and they leave the loop at the same step.
                    el, stopping = ctx.agree(elapsed_now(), stop["flag"])
                    stop["flag"] = stopping
                    if stopping:
                        break
                    if timed:
                        if step % 10 == 0:
                            lr = set_schedule(epoch, el)
                        if el >= cfg.time_limit_min * 60:
                            reached_limit = True
                            break
                    b, u = batches.next() if batches is not None else draw()
                    loss = batch_loss(cfg, fwd, traj_fwd, b, u, device)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    if averages:
                        averages[0].update(model)
                        if traj_model is not None:
                            averages[1].update(traj_model)
                    losses.append(loss.item())
                    bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
            finally:
                if batches is not None:
                    batches.close()
            if not losses:      # the time limit (or an interrupt) fell between two epochs
                if stop["flag"]:
                    save_ckpt(epoch)
                    raise KeyboardInterrupt
                break
            calib = [ChunkSampler(clips, cfg, rf, cfg.seed + 7919 * (epoch + 1), sampler.frame_weights)]
            if un_sampler is not None and epoch >= cfg.warmup:
                calib.append(ChunkSampler(unlabeled, cfg, rf, cfg.seed + 7919 * (epoch + 1) + 1,
                                          un_sampler.frame_weights))
            recalibrate_batchnorm([model] + ([traj_model] if traj_model is not None else [])
                                  + [a.model for a in averages], calib,
                                  cfg.bn_calibration_batches, cfg.batch_size, device)
            val_err = evaluate_chunks(model, val, cfg.kind, cfg.input_norm, device)
            elapsed = elapsed_before + time.time() - t0
            history.append({"epoch": epoch + 1, "train_loss": ctx.mean(float(np.mean(losses))), "val_mm": val_err,
                            "lr": lr, "elapsed_s": elapsed})
            if averages:
                # val_mm stays the live weights' error (comparable with runs without --ema).
                history[-1]["val_ema_mm"] = evaluate_chunks(averages[0].model, val, cfg.kind, cfg.input_norm, device)
            log(json.dumps(history[-1]))
            if stop["flag"]:
                save_ckpt(epoch)  # the interrupted epoch is redone on resume
                raise KeyboardInterrupt
            if (epoch + 1) % checkpoint_every == 0 or epoch + 1 == cfg.epochs or reached_limit:
                save_ckpt(epoch + 1)
            if reached_limit or (cfg.time_limit_min and elapsed > cfg.time_limit_min * 60):
                log(f"time limit of {cfg.time_limit_min} min reached after epoch {epoch + 1}")
                epoch += 1
                break
        else:
            epoch = cfg.epochs
    except BaseException:
        ctx.close()
        raise
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    wall = elapsed_before + time.time() - t0
    if ctx.enabled:
        spread = ctx.parameter_spread(model)
        log(f"ranks hold the same weights (largest difference {spread:.3g})")
    meta = dict(card or {})
    if cfg.init:
        meta.setdefault("initialised_from", init_record)
    meta.update({"kind": cfg.kind, "input_layout": "h36m17", "output_layout": "h36m17" if cfg.kind == "pose" else "root",
                 "fps": cfg.fps, "input_normalization": cfg.input_norm})
    if cfg.keypoint_definition_input:
        # Read by inference (lift.inference.network_input): feature 3 is where the keypoints sit.
        meta.update({"keypoint_definition_input": True, "input_features": ["x", "y", "keypoint_definition"]})
    if cfg.kind == "trajectory":
        meta["trajectory_parameterization"] = trajectory_parameterization(cfg.input_norm)
    meta.setdefault("training", {})
    final_key = "val_ema_mm" if averages else "val_mm"
    meta["training"].update({"config": asdict(cfg), "epochs_done": epoch, "wall_time_s": round(wall, 1),
                             "final_val_mm": history[-1].get(final_key) if history else None,
                             "commands": commands})
    if averages and history:
        meta["training"]["final_val_mm_live_weights"] = history[-1]["val_mm"]
    if ctx.enabled:
        meta["training"]["processes"] = ctx.world
    model.eval()
    path = out_path if out_path.suffix == ".safetensors" else out_path.with_suffix(".safetensors")
    if ctx.main:
        tmeta = dict(meta, kind="trajectory", output_layout="root",
                     trajectory_parameterization=trajectory_parameterization(cfg.input_norm))
        out_pose = averages[0].model if averages else model
        out_traj = (averages[1].model if averages else traj_model) if traj_model is not None else None
        path = save_model(out_path, out_pose.eval(), mcfg, meta)
        if out_traj is not None:
            save_model(out_path.with_name(out_path.stem + "_traj.safetensors"), out_traj.eval(), traj_cfg, tmeta)
        if averages:
            # The live weights beside the average, for comparing the two on full evaluations.
            live = path.with_name(path.stem + "_live.safetensors")
            save_model(live, model, mcfg, dict(meta, training=dict(meta["training"], weights="live, not averaged",
                                                                 final_val_mm=history[-1]["val_mm"] if history else None)))
    ctx.barrier()
    ctx.close()
    final = history[-1].get("val_ema_mm" if averages else "val_mm", float("nan")) if history else float("nan")
    return TrainResult(path, final, wall, epoch, history)


@torch.no_grad()
def evaluate_chunks(model: torch.nn.Module, batch: dict[str, torch.Tensor], kind: str = "pose",
                    input_norm: str = "focal_scaled", device: str | torch.device = "cpu") -> float:
    """MPJPE (pose) or root error (trajectory) on prepared chunks, millimetres.

    Every tensor of the batch is moved to ``device`` (the model's) before use."""
    model.eval()
    errs = []
    for s in range(0, len(batch["inputs"]), 64):
        part = {k: v[s: s + 64].to(device) for k, v in batch.items()}
        pred = model(part["inputs"])
        if kind == "trajectory":
            root = _decode_root(pred[:, :, 0], part, input_norm)
            errs.append(torch.linalg.norm(root - part["root"], dim=-1).mean())
        else:
            p = pred - pred[:, :, :1]
            errs.append(mpjpe_t(p, part["target"]))
    total = torch.stack(errs).mean() * 1000
    # On the meta device (shape and placement checks without a GPU) there is no number.
    return float("nan") if total.device.type == "meta" else float(total)
