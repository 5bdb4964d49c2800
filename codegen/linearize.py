"""Parsed source -> flat forward program: one primitive per statement over atoms.

This is the one place that builds the graph: user names are kept, unnamed subexpressions
get fresh temporaries in trace order (identical ones are shared), and constant
subexpressions are folded by SymPy (only where the result is a plain finite number, so
``2 * pi`` or ``exp(2)`` stay as written).  All traversals are iterative.
"""

from __future__ import annotations

import ast
import math
from fractions import Fraction

import sympy

from codegen.errors import InputError, OptionError
from codegen.ir import Atom, Const, Op, Program, Stmt, Var
from codegen.naming import Namer
from codegen.parse import Parsed
from codegen.primitives import SYMPY, USER_FUNCTIONS, const_to_sympy

_BINOPS: dict[type, str] = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
}

MAX_FOLD_EXPONENT = 1024


def literal_text(raw: str) -> str:
    """A literal as the user wrote it, normalised the way black prints literals."""
    lower = raw.lower()
    if lower.startswith("0x"):
        return "0x" + raw[2:].upper()
    return lower


def fold(prim: str, args: tuple[Const, ...]) -> Const | None:
    """Fold a primitive over constants with SymPy, if the result is a finite number."""
    if any(a.text == "pi" for a in args) and prim != "neg":
        return None
    if prim == "pow":
        exponent = args[1].value
        if abs(exponent) > MAX_FOLD_EXPONENT or abs(args[0].value) > 2**64:
            return None
    try:
        result = SYMPY[prim](*(const_to_sympy(a) for a in args))
    except (ZeroDivisionError, ValueError, TypeError):
        return None
    if not getattr(result, "is_Number", False) or not result.is_finite:
        return None
    if isinstance(result, sympy.Integer):
        return Const.of(int(result))
    if isinstance(result, sympy.Rational):
        return Const.of(Fraction(int(result.p), int(result.q)))
    return Const.of(float(result))


class _Builder:
    def __init__(self, parsed: Parsed, namer: Namer, targets: dict[str, int]) -> None:
        self.parsed = parsed
        self.namer = namer
        self.targets = targets  # name -> line of its assignment
        self.defined: set[str] = set()
        self.inputs: dict[str, None] = {}
        self.stmts: list[Stmt] = []
        self.shared: dict[tuple[str, tuple[Atom, ...]], str] = {}
        self._line_bytes: dict[int, bytes] = {}

    def _literal(self, node: ast.Constant) -> Const:
        value = node.value
        if isinstance(value, float) and not math.isfinite(value):
            raise self._error("literal is too large to be a finite float", node)
        line = self._line_bytes.get(node.lineno)
        if line is None:
            line = self.parsed.lines[node.lineno - 1].encode()
            self._line_bytes[node.lineno] = line
        raw = ""
        if node.end_lineno == node.lineno and node.end_col_offset is not None:
            raw = line[node.col_offset : node.end_col_offset].decode()
        if not raw or raw.startswith("("):
            raw = repr(value)
        return Const(value, literal_text(raw))

    def _error(self, message: str, node: ast.AST) -> InputError:
        where = f"{self.parsed.where}:{node.lineno}:{node.col_offset + 1}"
        return InputError(message, where)

    def _name(self, node: ast.Name, line: int) -> Atom:
        name = node.id
        if name == "pi":
            return Const(math.pi, "pi")
        if name in self.defined:
            return Var(name)
        if name in self.targets:
            assigned = self.targets[name]
            if assigned >= line:
                raise self._error(
                    f"'{name}' is used before it is assigned (line {assigned})", node
                )
        self.inputs.setdefault(name, None)
        return Var(name)

    def _emit(self, prim: str, args: tuple[Atom, ...], target: str | None) -> Atom:
        if all(isinstance(a, Const) for a in args):
            folded = fold(prim, args)  # type: ignore[arg-type]
            if folded is not None:
                if target is None:
                    return folded
                self.stmts.append(Stmt(target, folded))
                return Var(target)
        op = Op(prim, args)
        if target is None:
            key = (prim, args)
            name = self.shared.get(key)
            if name is None:
                name = self.namer.temp()
                self.shared[key] = name
                self.stmts.append(Stmt(name, op))
            return Var(name)
        self.stmts.append(Stmt(target, op))
        return Var(target)

    def statement(self, root: ast.expr, target: str, line: int) -> None:
        """Emit the statements computing ``root`` into ``target`` (post-order, no recursion)."""
        values: dict[int, Atom] = {}
        stack: list[tuple[ast.expr, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            top = node is root
            if isinstance(node, ast.Name):
                values[id(node)] = self._name(node, line)
            elif isinstance(node, ast.Constant):
                values[id(node)] = self._literal(node)
            elif not expanded:
                stack.append((node, True))
                if isinstance(node, ast.BinOp):
                    children: list[ast.expr] = [node.left, node.right]
                elif isinstance(node, ast.UnaryOp):
                    children = [node.operand]
                else:
                    assert isinstance(node, ast.Call)
                    children = list(node.args)
                stack.extend((child, False) for child in reversed(children))
            elif isinstance(node, ast.BinOp):
                args = (values.pop(id(node.left)), values.pop(id(node.right)))
                prim = _BINOPS[type(node.op)]
                values[id(node)] = self._emit(prim, args, target if top else None)
            elif isinstance(node, ast.UnaryOp):
                operand = values.pop(id(node.operand))
                if isinstance(node.op, ast.UAdd):
                    values[id(node)] = operand
                elif isinstance(operand, Const) and operand.text != "pi":
                    values[id(node)] = Const(-operand.value, _negate(operand.text))
                else:
                    values[id(node)] = self._emit(
                        "neg", (operand,), target if top else None
                    )
            else:
                assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                args = tuple(values.pop(id(a)) for a in node.args)
                prim = USER_FUNCTIONS[node.func.id]
                values[id(node)] = self._emit(prim, args, target if top else None)
        result = values[id(root)]
        if not (isinstance(result, Var) and result.name == target):
            # a plain name or constant (or a folded constant): a copy statement
            self.stmts.append(Stmt(target, result))
        self.defined.add(target)


def _negate(text: str) -> str:
    if text.startswith("-"):
        return text[1:]
    if " / " in text:
        return f"-({text})"
    return "-" + text


def _all_names(parsed: Parsed) -> list[str]:
    names: list[str] = []
    for st in parsed.statements:
        if st.target is not None:
            names.append(st.target)
        for node in ast.walk(st.value):
            if isinstance(node, ast.Name):
                names.append(node.id)
    return names + list(parsed.declared)


def linearize(parsed: Parsed, inputs: tuple[str, ...] | None = None) -> Program:
    """Build the flat forward program; ``inputs`` (from ``--inputs``) fixes input order."""
    targets: dict[str, int] = {}
    for st in parsed.statements:
        if st.target is None:
            continue
        if st.target in targets:
            raise InputError(
                f"'{st.target}' is assigned twice (lines {targets[st.target]} and "
                f"{st.line}); assign each name once",
                f"{parsed.where}:{st.line}:1",
            )
        targets[st.target] = st.line
    namer = Namer(_all_names(parsed) + list(inputs or ()))
    builder = _Builder(parsed, namer, targets)
    output = ""
    for st in parsed.statements:
        target = st.target if st.target is not None else namer.fresh("f")
        builder.statement(st.value, target, st.line)
        output = target
    used = tuple(builder.inputs)
    for name in parsed.declared:
        if name in targets:
            raise InputError(
                f"'{name}' is declared as an input but assigned on line {targets[name]}",
                parsed.where,
            )
    if inputs is not None:
        order = _check_listed(inputs, used, targets, "--inputs")
    elif parsed.declared:
        order = _check_listed(parsed.declared, used, targets, "declared inputs")
    else:
        order = used
    return Program(order, tuple(builder.stmts), (output,))


def _check_listed(
    listed: tuple[str, ...], used: tuple[str, ...], targets: dict[str, int], what: str
) -> tuple[str, ...]:
    if len(set(listed)) != len(listed):
        raise OptionError(f"an input is listed twice: {', '.join(listed)}", what)
    for name in listed:
        if not name.isidentifier():
            raise OptionError(f"'{name}' is not a valid name", what)
        if name in targets:
            raise OptionError(
                f"'{name}' is assigned in the program, so it is not an input", what
            )
    missing = [name for name in used if name not in listed]
    if missing:
        raise OptionError(
            f"input {', '.join(repr(m) for m in missing)} is used but not listed "
            f"(listed: {', '.join(listed)})",
            what,
        )
    return tuple(listed)
