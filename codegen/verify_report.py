"""The report of ``--verify``: one row per function and input, with the largest errors
over every binding and point, PASS or FAIL, and the tolerances it used."""

from __future__ import annotations

from dataclasses import dataclass, field

from .oracles import FD_ATOL, FD_RTOL, FD_STEP
from .verify_check import SEED


@dataclass
class Row:
    """One function and input (or ``(value)``, ``(dot product)``): its largest errors
    and whether every point passed; ``note`` says why the first failure failed."""

    function: str
    what: str
    abs_err: float = 0.0
    rel_err: float = 0.0
    passed: bool = True
    checked: int = 0
    note: str = ""

    def fail(self, note: str) -> None:
        self.passed = False
        if not self.note:
            self.note = note


@dataclass
class Report:
    """The rows in the table's order, the bindings checked and skipped, the points."""

    where: str
    rows: dict[tuple[str, str], Row] = field(default_factory=dict)
    bindings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    points: int = 0

    def row(self, function: str, what: str) -> Row:
        key = (function, what)
        if key not in self.rows:
            self.rows[key] = Row(function, what)
        return self.rows[key]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows.values())

    def text(self) -> str:
        lines = [
            f"verify {self.where}: {len(self.bindings)} binding(s) of the sizes "
            f"({'; '.join(self.bindings)}), {self.points} point(s) in all, seed {SEED}",
            f"tolerance: |exact - central difference| <= {FD_RTOL:g} * min(|exact|, "
            f"|central difference|) + {FD_ATOL:g} * (1 + M); step h = {FD_STEP:g} * "
            "max(1, |x|); M = sum |c * f| of the differenced terms",
        ]
        lines += [f"skipped {s}" for s in self.skipped]
        table = [("function", "input", "max abs err", "max rel err", "result")]
        for r in self.rows.values():
            result = "PASS" if r.passed else "FAIL"
            if r.note:
                result += f"  ({r.note})"
            table.append(
                (r.function, r.what, f"{r.abs_err:.2e}", f"{r.rel_err:.2e}", result)
            )
        widths = [max(len(t[i]) for t in table) for i in range(4)]
        for entry in table:
            cells = [entry[i].ljust(widths[i]) for i in range(4)] + [entry[4]]
            lines.append("  ".join(cells).rstrip())
        failed = [r for r in self.rows.values() if not r.passed]
        if failed:
            names = ", ".join(f"{r.function} {r.what}" for r in failed)
            lines.append(f"FAIL: {len(failed)} of {len(self.rows)} check(s): {names}")
        else:
            lines.append(f"PASS: all {len(self.rows)} check(s)")
        return "\n".join(lines) + "\n"
