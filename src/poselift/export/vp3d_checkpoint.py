"""Write a lifting model as a VideoPose3D ``run.py`` checkpoint.

The file is the dict run.py saves (``epoch``, ``lr``, ``random_state``, ``optimizer``,
``model_pos``, ``model_traj``, ``random_state_semi``) with plain float32 state dicts whose
parameter names are VideoPose3D's own, so ``run.py --evaluate FILE`` (and any code that
builds ``TemporalModel`` and calls ``load_state_dict(ckpt["model_pos"])``) uses it as it
is. ``optimizer`` and the random states are None: run.py then starts a fresh optimizer
on ``--resume`` (it warns so). Everything in the file loads with
``torch.load(weights_only=True)``.

Only models whose input VideoPose3D can build can be exported: ``screen`` input
normalisation (``x / w * 2 - [1, h / w]``) in the H3.6M or COCO 17-joint layout, and a
trajectory network only when it predicts the root position directly, as
VideoPose3D's does.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from poselift.errors import InputError, PoseliftError
from poselift.fsutil import publish
from poselift.lift.weights import LiftModel

#: run.py's ``-k`` for each input layout (the 2D file it would be evaluated on).
KEYPOINTS_ARG = {"h36m17": "cpn_ft_h36m_dbb (or gt)", "coco17": "detectron_pt_coco"}


@dataclass
class ExportSummary:
    path: Path
    run_py_args: str
    trajectory: bool
    notes: list[str]


def _arch_args(model: torch.nn.Module) -> str:
    cfg = model._poselift_config  # type: ignore[attr-defined]
    args = f"-arc {','.join(str(w) for w in cfg.filter_widths)} -ch {cfg.channels}"
    if cfg.causal:
        args += " --causal"
    if cfg.dense:
        args += " --dense"
    return args


def export_videopose3d(lm: LiftModel, output: str | Path, legacy: bool = False) -> ExportSummary:
    """Write ``lm`` to ``output`` as a run.py checkpoint (see module doc).

    Args:
        legacy: PyTorch's pre-1.6 serialization, for old VideoPose3D environments.
    Raises:
        InputError: a model VideoPose3D cannot run (named in the message).
    """
    out = Path(output)
    name = lm.meta.get("name") or Path(lm.source).stem or "model"
    if lm.input_normalization != "screen":
        raise InputError(f"model {name!r} uses {lm.input_normalization} input normalisation, which VideoPose3D "
                         "cannot reproduce (it feeds x / w * 2 - [1, h / w]); only 'screen' models can be exported",
                         lm.source or None)
    if lm.input_layout not in KEYPOINTS_ARG or lm.model_pos.in_features != 2:
        raise InputError(f"model {name!r} takes {lm.input_layout} input; VideoPose3D's data files hold "
                         "h36m17 or coco17 (x, y) keypoints", lm.source or None)
    if lm.output_layout != "h36m17":
        raise InputError(f"model {name!r} predicts {lm.output_layout} joints; VideoPose3D's Human3.6M "
                         "skeleton has the 17 joints of h36m17", lm.source or None)
    notes = []
    traj = None
    if lm.model_traj is not None:
        param = lm.extra.get("trajectory_parameterization", "direct")
        if param == "direct":
            traj = lm.model_traj
        else:
            notes.append(f"trajectory network not exported: it predicts {param}, VideoPose3D's predicts the "
                         "root position directly")
    ckpt = {
        "epoch": int((lm.meta.get("training") or {}).get("epochs_done") or lm.meta.get("epoch") or 0),
        "lr": 0.001,
        "random_state": None,
        "optimizer": None,
        "model_pos": {k: v.detach().cpu().float().contiguous() for k, v in lm.model_pos.state_dict().items()},
        "model_traj": None if traj is None else
        {k: v.detach().cpu().float().contiguous() for k, v in traj.state_dict().items()},
        "random_state_semi": None,
    }
    if not out.parent.is_dir():
        raise InputError("output folder does not exist", out.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        torch.save(ckpt, tmp, _use_new_zipfile_serialization=not legacy)
        publish(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PoseliftError(f"cannot write checkpoint ({exc.strerror or exc})", out) from None
    args = (f"python run.py -k {KEYPOINTS_ARG[lm.input_layout]} {_arch_args(lm.model_pos)} "
            f"-c {out.parent} --evaluate {out.name}")
    if lm.fps != 50.0:
        notes.append(f"the model was trained at {lm.fps:g} fps; VideoPose3D's Human3.6M data is 50 fps")
    return ExportSummary(out, args, traj is not None, notes)
