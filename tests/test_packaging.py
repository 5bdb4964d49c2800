"""What the distribution installs: one import name, backpropgen (codegen/ and
templates/ mapped onto it), its console script, the type marker, nothing else."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO


def test_wheel_has_one_top_level_name(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps"]
        + ["--quiet", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("backpropgen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {
        "backpropgen",
        wheel.name.split("-py")[0] + ".dist-info",
    }
    for shipped in ("py.typed", "templates/module.py.jinja", "command.py", "api.py"):
        assert f"backpropgen/{shipped}" in names
    (entry,) = [n for n in names if n.endswith("entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry).decode()
    assert "backpropgen = backpropgen.command:main" in scripts


def test_codegen_imports_itself_relatively() -> None:
    """Installed as backpropgen, the package cannot name itself codegen."""
    absolute = re.compile(r"^\s*(from codegen[. ]|import codegen\b)", re.M)
    for path in sorted((REPO / "codegen").glob("*.py")):
        found = absolute.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.name}: {found.group(0).strip()}"
