"""The committed corpus of bad files (tests/data/bad, written by tests/make_bad_corpus.py):
each is refused by its reader with exactly one PoseliftError, one line naming the file and
the problem, and ``poselift lift`` / ``data import`` processes print that one line, exit 1
and write nothing (issue 13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from poselift.errors import PoseliftError

CORPUS = Path(__file__).resolve().parent / "data" / "bad"
MANIFEST = json.loads((CORPUS / "MANIFEST.json").read_text())


def _read(reader: str, path: Path):
    if reader == "tracks":
        from poselift.lift.pipeline import read_tracks_file
        return read_tracks_file(path)
    if reader == "keypoints":
        from poselift.io.keypoints import load_keypoints
        return load_keypoints(path)
    if reader == "bvh":
        from poselift.io.bvh import read_bvh
        return read_bvh(path)
    if reader == "mocap":
        from poselift.io.mocap import load_mocap_file
        return load_mocap_file(path, 50.0, cache=False)
    if reader == "model":
        from poselift.lift.weights import load_model
        return load_model(path)
    raise AssertionError(reader)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_bad_file_is_refused_in_one_line(name):
    case = MANIFEST[name]
    with pytest.raises(PoseliftError) as info:
        _read(case["reader"], CORPUS / name)
    assert type(info.value).__mro__[0] is not Exception
    msg = str(info.value)
    assert "\n" not in msg and name in msg and case["expect"] in msg, msg


def test_corpus_is_what_the_script_writes():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import make_bad_corpus

    cases = make_bad_corpus.cases()
    assert sorted(cases) == sorted(MANIFEST)
    for name, (reader, expect, content) in cases.items():
        assert MANIFEST[name] == {"reader": reader, "expect": expect}
        if not name.endswith((".bin",)):  # torch's legacy writer embeds a random key
            assert (CORPUS / name).read_bytes() == content, f"{name} is stale: run tests/make_bad_corpus.py"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "poselift.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_cli_lift_bad_npz_files(tmp_path):
    names = [n for n, c in MANIFEST.items() if c["reader"] == "tracks"]
    for name in names[:4]:
        out = tmp_path / "o.npz"
        r = _cli("lift", str(CORPUS / name), "-o", str(out), cwd=tmp_path)
        assert r.returncode == 1, r.stderr
        assert r.stderr.count("\n") == 1 and name in r.stderr and MANIFEST[name]["expect"] in r.stderr, r.stderr
        assert list(tmp_path.iterdir()) == []


def test_cli_data_import_one_line_per_file(tmp_path):
    one = _cli("data", "import", str(CORPUS / "unknown_skeleton.bvh"), "-o", str(tmp_path / "x.npz"),
               "--no-cache", cwd=tmp_path)
    assert one.returncode == 1
    assert one.stderr.count("\n") == 1 and "unknown_skeleton.bvh" in one.stderr, one.stderr
    bad = sorted(str(CORPUS / n) for n, c in MANIFEST.items() if c["reader"] in ("bvh", "mocap"))
    many = _cli("data", "import", *bad, "-o", str(tmp_path / "x.npz"), "--no-cache", cwd=tmp_path)
    lines = many.stderr.splitlines()
    assert many.returncode == 1
    assert len(lines) == len(bad) + 1, many.stderr  # one per file, then the summary
    for path, line in zip(bad, lines):
        assert Path(path).name in line
    assert list(tmp_path.iterdir()) == []
