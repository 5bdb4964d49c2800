"""The manifest: ``--regen`` writes generated/, ``--check`` guards it (like black --check)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import REPO

import cli
from codegen.regen import FIX, MARKER, load_manifest, regen

#: the header of a module that --regen wrote
REGEN_HEADER = f'"""{MARKER}\n\nRegenerate with: {FIX}\n"""\n'

PYPROJECT = """\
[project]
name = "demo"

[tool.backpropgen]
directory = "gen"

[tool.backpropgen.modules.lecture]
source = "x + y*z"

[tool.backpropgen.modules.named]
source = "q = y*z; f = x + q"
inputs = ["x", "y", "z"]

[tool.backpropgen.modules.chain]
file = "src/chain.bp"
backend = "math"

[tool.backpropgen.modules.partial]
source = "x * sin(y) + z"
wrt = ["z", "x"]
"""

CHAIN = "a = x + 1\nb = a * 2\nc = -b\nf = sigmoid(c)\n"
MODULES = ("chain", "lecture", "named", "partial")
BAD_ENTRY = '\n[tool.backpropgen.modules.broken]\nsource = "x +* 2"\n'

Run = tuple[int, str, str]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "chain.bp").write_text(CHAIN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def fresh(project: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    status, _, _ = _run(capsys, "--regen")
    assert status == 0
    return project


def test_regen_writes_every_module(fresh: Path) -> None:
    gen = fresh / "gen"
    assert sorted(p.stem for p in gen.glob("*.py")) == sorted(MODULES)
    for name in MODULES:
        text = (gen / f"{name}.py").read_text(encoding="utf-8")
        assert MARKER in text
        assert FIX in text
    assert "from math import exp" in (gen / "chain.py").read_text(encoding="utf-8")
    assert 'WRT = ("z", "x")' in (gen / "partial.py").read_text(encoding="utf-8")
    assert 'INPUTS = ("x", "y", "z")' in (gen / "named.py").read_text(encoding="utf-8")


def test_check_passes_when_fresh(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "--check")
    assert status == 0
    assert out == ""
    before = _snapshot(fresh)
    assert _run(capsys, "--regen")[0] == 0  # nothing to do: nothing changes
    assert _snapshot(fresh) == before


def test_check_finds_a_stale_file(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = fresh / "gen" / "lecture.py"
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("dx = df", "dx = 2 * df"), encoding="utf-8")
    before = _snapshot(fresh)
    status, out, err = _run(capsys, "--check")
    assert status == 1
    assert "--- gen/lecture.py" in out and "+++ gen/lecture.py" in out
    assert "-    dx = 2 * df" in out and "+    dx = df" in out
    assert "gen/lecture.py" in err and "stale" in err and FIX in err
    assert _snapshot(fresh) == before  # --check writes nothing


def test_check_finds_a_missing_file(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (fresh / "gen" / "named.py").unlink()
    status, out, err = _run(capsys, "--check")
    assert status == 1
    assert "+++ gen/named.py" in out and "+def forward_backward(" in out
    assert "gen/named.py" in err and "missing" in err and FIX in err
    assert not (fresh / "gen" / "named.py").exists()


def test_check_finds_an_orphan(fresh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    orphan = fresh / "gen" / "old.py"
    orphan.write_text((fresh / "gen" / "lecture.py").read_text(encoding="utf-8"))
    status, out, err = _run(capsys, "--check")
    assert status == 1
    assert "gen/old.py" in out
    assert "gen/old.py" in err and "orphan" in err and FIX in err
    assert orphan.exists()


def test_regen_fixes_stale_missing_and_orphaned(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gen = fresh / "gen"
    want = _snapshot(fresh)
    (gen / "lecture.py").write_text("# stale\n" + MARKER + "\n", encoding="utf-8")
    (gen / "named.py").unlink()
    (gen / "old.py").write_text(REGEN_HEADER + "x = 1\n", encoding="utf-8")
    status, _, err = _run(capsys, "--check")
    assert status == 1
    assert all(kind in err for kind in ("stale", "missing", "orphan"))
    status, _, err = _run(capsys, "--regen")
    assert status == 0
    assert "gen/lecture.py" in err and "gen/named.py" in err and "gen/old.py" in err
    assert err.splitlines()[-1] == (
        f"backpropgen: {len(MODULES)} module(s) up to date (2 written); "
        "1 orphan(s) removed"
    )
    assert _snapshot(fresh) == want
    assert _run(capsys, "--check")[0] == 0


def test_modules_written_with_dash_o_are_left_alone(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    adhoc = fresh / "gen" / "adhoc.py"
    assert cli.main(["x*2", "-o", str(adhoc)]) == 0
    text = adhoc.read_text(encoding="utf-8")
    assert MARKER in text
    assert _run(capsys, "--check")[0] == 0
    assert _run(capsys, "--regen")[0] == 0
    assert adhoc.read_text(encoding="utf-8") == text


def test_files_without_the_marker_are_left_alone(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helper = fresh / "gen" / "helper.py"
    helper.write_text("# hand-written, not ours\nx = 1\n", encoding="utf-8")
    assert _run(capsys, "--check")[0] == 0
    assert _run(capsys, "--regen")[0] == 0
    assert helper.read_text(encoding="utf-8") == "# hand-written, not ours\nx = 1\n"


@pytest.mark.parametrize("mode", ["--regen", "--check"])
def test_a_bad_source_exits_2_and_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    assert _run(capsys, "--regen")[0] == 0
    gen = project / "gen"
    (gen / "lecture.py").write_text("# stale " + MARKER + "\n", encoding="utf-8")
    (gen / "named.py").unlink()
    orphan = gen / "old.py"
    orphan.write_text(REGEN_HEADER, encoding="utf-8")
    with (project / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(BAD_ENTRY)
    before = _snapshot(project)
    status, out, err = _run(capsys, mode)
    assert status == 2
    lines = err.splitlines()
    assert lines[0].startswith("backpropgen: error: ")
    assert "broken" in lines[0]
    assert out == ""
    assert _snapshot(project) == before


BAD_OPTIONS = {
    "reserved-input": ('inputs = ["np", "x"]', "'np' is reserved"),
    "private-input": ('inputs = "x, _y"', "'_y'"),
    "keyword-input": ('inputs = ["x", "if"]', "keyword"),
    "empty-wrt": ("wrt = []", "no names"),
    "empty-name": ('wrt = "x,,y"', "empty name"),
    "not-names": ("wrt = [1]", "list of names"),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_bad_manifest_options_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    line, needle = BAD_OPTIONS[case]
    entry = f'\n[tool.backpropgen.modules.bad]\nsource = "x * y"\n{line}\n'
    with (project / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(entry)
    before = _snapshot(project)
    status, out, err = _run(capsys, "--regen")
    assert status == 2
    assert out == ""
    (first,) = err.splitlines()
    assert first.startswith("backpropgen: error: ")
    assert "bad" in first and needle in first, first
    assert _snapshot(project) == before


def test_regen_from_a_subdirectory(
    fresh: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (fresh / "gen" / "chain.py").unlink()
    sub = fresh / "src"
    monkeypatch.chdir(sub)
    assert _run(capsys, "--check")[0] == 1
    assert _run(capsys, "--regen")[0] == 0
    assert (fresh / "gen" / "chain.py").exists()
    assert not (sub / "gen").exists()


def test_the_repository_gallery_is_fresh() -> None:
    manifest = load_manifest(REPO / "pyproject.toml")
    assert len(manifest.entries) >= 6
    assert regen(manifest, check=True) == []


def test_a_module_file_that_is_not_utf8_is_stale(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    want = _snapshot(fresh)
    (fresh / "gen" / "lecture.py").write_bytes(b"\xff\xfe not text")
    status, _, err = _run(capsys, "--check")
    assert status == 1 and "gen/lecture.py is stale" in err
    assert _run(capsys, "--regen")[0] == 0
    assert _snapshot(fresh) == want


def test_a_folder_where_a_module_goes_is_an_error(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = fresh / "gen" / "lecture.py"
    module.unlink()
    module.mkdir()
    for mode in ("--check", "--regen"):
        status, out, err = _run(capsys, mode)
        assert status == 2 and out == ""
        (line,) = err.splitlines()
        assert "modules.lecture" in line and "gen/lecture.py" in line, line
    assert module.is_dir()


def test_a_file_where_the_folder_goes_is_an_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "gen").write_text("not a folder\n", encoding="utf-8")
    status, _, err = _run(capsys, "--regen")
    assert status == 2
    (line,) = err.splitlines()
    assert "directory" in line and "gen is a file" in line, line


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"\xff\xfe x", "not UTF-8"), (None, "cannot read")],
)
def test_an_unreadable_source_file_is_an_error(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    needle: str,
) -> None:
    chain = project / "src" / "chain.bp"
    chain.unlink()
    if content is None:
        chain.mkdir()
    else:
        chain.write_bytes(content)
    status, out, err = _run(capsys, "--regen")
    assert status == 2 and out == ""
    (line,) = err.splitlines()
    assert "modules.chain" in line and "src/chain.bp" in line and needle in line, line
    assert not (project / "gen").exists()


def test_a_source_file_may_start_with_a_byte_order_mark(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = project / "src" / "chain.bp"
    assert _run(capsys, "--regen")[0] == 0
    want = _snapshot(project / "gen")
    chain.write_bytes(b"\xef\xbb\xbf" + chain.read_bytes())
    assert _run(capsys, "--check")[0] == 0
    assert _snapshot(project / "gen") == want


def test_a_fifo_named_like_a_module_does_not_hang_check(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(fresh / "gen" / "zz.py")  # opening it to read would block forever
    assert _run(capsys, "--check")[0] == 0


@pytest.mark.parametrize("target", ["../pyproject.toml", "/nonexistent/dir/x.py"])
def test_a_symlink_where_a_module_goes_is_an_error(
    fresh: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    module = fresh / "gen" / "lecture.py"
    module.unlink()
    module.symlink_to(target)
    before = _snapshot(fresh)
    status, out, err = _run(capsys, "--regen")
    assert status == 2 and out == ""
    (line,) = err.splitlines()
    assert "modules.lecture" in line and "symlink" in line, line
    assert _snapshot(fresh) == before
    assert os.readlink(module) == target


def test_a_file_above_the_folder_is_an_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    text = text.replace('directory = "gen"', 'directory = "afile/gen"')
    (project / "pyproject.toml").write_text(text, encoding="utf-8")
    (project / "afile").write_text("not a folder\n", encoding="utf-8")
    for mode in ("--check", "--regen"):
        status, _, err = _run(capsys, mode)
        assert status == 2
        (line,) = err.splitlines()
        assert "directory" in line and "afile is a file" in line, line


def test_a_folder_outside_the_project(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path_factory
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "gen"
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    text = text.replace('directory = "gen"', f'directory = "{outside.as_posix()}"')
    (project / "pyproject.toml").write_text(text, encoding="utf-8")
    status, _, err = _run(capsys, "--check")
    assert status == 1 and "lecture.py is missing" in err
    assert _run(capsys, "--regen")[0] == 0
    assert sorted(p.stem for p in outside.glob("*.py")) == sorted(MODULES)
    assert _run(capsys, "--check")[0] == 0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("tool = 3\n", "no [tool.backpropgen] table"),
        ('[tool.backpropgen]\ndirectory = "g\\u0000"\n', "'directory'"),
        (
            '[tool.backpropgen.modules.a]\nfile = "a\\u0000b"\n',
            "'file' must be a file name",
        ),
        (
            '[tool.backpropgen.modules."\\uff46oo"]\nsource = "x"\n',
            "as Python reads it: 'foo'",
        ),
    ],
)
def test_odd_manifests_are_one_line_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    needle: str,
) -> None:
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for mode in ("--check", "--regen"):
        status, out, err = _run(capsys, mode)
        assert status == 2 and out == ""
        (line,) = err.splitlines()
        assert needle in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


def test_a_fifo_as_a_source_file_is_an_error_not_a_hang(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = project / "src" / "chain.bp"
    chain.unlink()
    os.mkfifo(chain)
    status, _, err = _run(capsys, "--check")
    assert status == 2 and "not a regular file" in err
