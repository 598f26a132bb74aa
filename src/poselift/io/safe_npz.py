"""Load ``.npz`` files whose arrays may hold pickled Python objects, without running code.

VideoPose3D stores nested dicts (``positions_2d[subject][action]``, ``metadata``) as
0-d object arrays, which ``np.load(..., allow_pickle=True)`` would unpickle with the
full, code-executing unpickler. :func:`load_npz` unpickles them with a restricted
unpickler that admits only NumPy's array-reconstruction helpers and a few plain
containers; any other global (``os.system``, a class from some module...) makes the
file be refused with :class:`~poselift.errors.UnsafeFileError`.
"""

from __future__ import annotations

import io
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from poselift.errors import InputError, UnsafeFileError
from poselift.fsutil import atomic_write

# (module, name) pairs a NumPy object array pickle legitimately references. The module
# is `numpy.core` for files written by NumPy 1.x and `numpy._core` for NumPy 2.x.
_ALLOWED: set[tuple[str, str]] = set()
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED |= {(_mod, "_reconstruct"), (_mod, "scalar")}
_ALLOWED |= {("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
             ("builtins", "slice"), ("builtins", "complex"), ("builtins", "set"), ("builtins", "frozenset")}


def _is_allowed(module: str, name: str) -> bool:
    if (module, name) in _ALLOWED:
        return True
    # Concrete dtype classes (numpy.dtypes.Float32DType, ...) are plain descriptors.
    return module == "numpy.dtypes" and name.endswith("DType")


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if not _is_allowed(module, name):
            raise UnsafeFileError(f"refusing to load: the file's pickled data references {module}.{name}, "
                                  "which is not a NumPy array or plain value")
        if module.startswith("numpy._core") and not hasattr(np, "_core"):
            module = module.replace("numpy._core", "numpy.core")
        elif module.startswith("numpy.core") and hasattr(np, "_core"):
            module = module.replace("numpy.core", "numpy._core")
        return super().find_class(module, name)


def safe_unpickle(data: bytes | io.BufferedIOBase) -> Any:
    """Unpickle bytes or a binary stream with the restricted unpickler."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    return _RestrictedUnpickler(stream, encoding="latin1").load()


def _read_npy(fp: io.BufferedIOBase) -> np.ndarray:
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    if dtype.hasobject:
        return safe_unpickle(fp)
    count = int(np.prod(shape)) if shape else 1
    data = fp.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError("array data is truncated")
    arr = np.frombuffer(data, dtype=dtype, count=count)
    if fortran:
        return arr.reshape(shape[::-1]).transpose().copy()
    return arr.reshape(shape).copy()


def load_npz(path: str | Path) -> dict[str, Any]:
    """Read every array of an ``.npz`` (or a single ``.npy``) into a dict.

    0-d object arrays are returned unwrapped (``arr.item()``), so VideoPose3D's
    ``positions_2d`` comes back as the dict it was saved from.

    Raises:
        InputError: missing, unreadable or malformed file.
        UnsafeFileError: pickled content referencing anything beyond NumPy types.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", p)
    out: dict[str, Any] = {}
    try:
        if p.suffix == ".npy":
            with p.open("rb") as fp:
                return {"arr_0": _unwrap(_read_npy(fp))}
        with zipfile.ZipFile(p) as zf:
            for member in zf.namelist():
                if not member.endswith(".npy"):
                    continue
                with zf.open(member) as fp:
                    out[member[:-4]] = _unwrap(_read_npy(fp))
    except UnsafeFileError as exc:
        raise UnsafeFileError(str(exc), p) from None
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError, pickle.UnpicklingError, OSError, KeyError,
            AttributeError, TypeError, IndexError) as exc:
        raise InputError(f"not a readable .npz file ({type(exc).__name__}: {exc})", p) from None
    return out


def _unwrap(a: Any) -> Any:
    if isinstance(a, np.ndarray) and a.dtype == object and a.shape == ():
        return a.item()
    return a


def save_npz(path: str | Path, compressed: bool = True, **arrays: Any) -> None:
    """Write an ``.npz`` atomically (temp file in the same folder, then rename)."""
    save = np.savez_compressed if compressed else np.savez
    # NumPy appends ".npz" to names without it, so the temp name carries it.
    atomic_write(path, lambda tmp: save(tmp, **arrays), suffix=".npz")
