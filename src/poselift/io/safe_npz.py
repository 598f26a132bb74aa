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
import struct
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


# What one file may expand to in memory. Human3.6M's largest VideoPose3D file (2D
# detections of four cameras) is about 0.5 GiB of arrays.
MAX_NPZ_BYTES = 2 * 2**30


def _read_npy(fp: io.BufferedIOBase, available: int | None = None) -> np.ndarray:
    """One ``.npy`` stream; ``available`` is its byte size when known (a zip member's),
    checked against the header's declared shape before anything is allocated."""
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if dtype.hasobject:
        return safe_unpickle(fp)
    count = 1
    for n in shape:
        count *= int(n)
    nbytes = count * dtype.itemsize
    if nbytes > MAX_NPZ_BYTES or (available is not None and nbytes > available):
        raise _TooLarge(f"an array declares shape {tuple(shape)} of {dtype} ({nbytes / 2**20:.0f} MiB), "
                        + ("more than the file holds" if available is not None and nbytes <= MAX_NPZ_BYTES
                           else f"more than the {MAX_NPZ_BYTES / 2**30:.0f} GiB allowed"))
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
    from poselift.fsutil import check_input

    p = check_input(path, what="npz file")
    out: dict[str, Any] = {}
    try:
        if p.suffix == ".npy":
            with p.open("rb") as fp:
                return {"arr_0": _unwrap(_read_npy(fp, p.stat().st_size))}
        with zipfile.ZipFile(p) as zf:
            members = [i for i in zf.infolist() if i.filename.endswith(".npy")]
            total = sum(i.file_size for i in members)
            if total > MAX_NPZ_BYTES:
                raise _TooLarge(f"its arrays would take {total / 2**20:.0f} MiB, more than the "
                                f"{MAX_NPZ_BYTES / 2**30:.0f} GiB allowed")
            for info in members:
                with zf.open(info) as fp:
                    out[info.filename[:-4]] = _unwrap(_read_npy(fp, info.file_size))
    except UnsafeFileError as exc:
        raise UnsafeFileError(str(exc), p) from None
    except _TooLarge as exc:
        raise InputError(f"refusing to load: {exc}", p) from None
    except RecursionError:
        raise InputError("not a readable .npz file (pickled data nested too deeply)", p) from None
    except MemoryError:
        raise InputError("not a readable .npz file (its content does not fit in memory)", p) from None
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError, pickle.UnpicklingError, OSError, KeyError,
            AttributeError, TypeError, IndexError, NotImplementedError, OverflowError,
            UnicodeDecodeError, struct.error) as exc:
        raise InputError(f"not a readable .npz file ({type(exc).__name__}: {exc})", p) from None
    return out


class _TooLarge(Exception):
    pass


def _unwrap(a: Any) -> Any:
    if isinstance(a, np.ndarray) and a.dtype == object and a.shape == ():
        return a.item()
    return a


def save_npz(path: str | Path, compressed: bool = True, **arrays: Any) -> None:
    """Write an ``.npz`` atomically (temp file in the same folder, then rename)."""
    atomic_write(path, lambda tmp: _write_npz(tmp, arrays, compressed), suffix=".npz")


def _write_npz(path: Path, arrays: dict[str, Any], compressed: bool) -> None:
    """``np.savez[_compressed]`` with the zip file closed on every path: NumPy's own leaves
    it open when a write fails (disk full), and its ``__del__`` then prints a traceback."""
    mode = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with open(path, "wb") as f, zipfile.ZipFile(f, mode="w", compression=mode, allowZip64=True) as zf:
        for key, val in arrays.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(val), allow_pickle=True)
