"""Shape rules (abstract evaluation): every primitive has one, each gives the type NumPy
gives, and re-deriving the types of whole programs with them agrees with the types the
pipeline records, forward, reverse and (once transforms mint typed temporaries) after
``prepare``."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen.dims import symbol
from codegen.errors import InputError
from codegen.generate import compile_source
from codegen.ir import Const, Op, Var
from codegen.linearize import linearize
from codegen.lowerings import LOWERINGS
from codegen.parse import parse
from codegen.primitives import COMPOSITES, FUNCTIONS, PRIMITIVES
from codegen.regen import load_manifest
from codegen.shapes import (
    SCALAR,
    ShapeError,
    Type,
    index_text,
    parse_index,
)
from codegen.transforms import prepare
from codegen.typecheck import infer, type_expr, type_program

REPO = Path(__file__).resolve().parent.parent
GALLERY = load_manifest(REPO / "pyproject.toml").entries


def test_every_primitive_has_a_shape_rule() -> None:
    assert all(callable(p.shape) for p in PRIMITIVES.values())


def test_every_user_function_has_a_lowering() -> None:
    assert sorted(LOWERINGS) == sorted(FUNCTIONS)
    assert not set(COMPOSITES) & set(PRIMITIVES)
    for name, lowering in LOWERINGS.items():
        if lowering is LOWERINGS["exp"]:  # applied as it is: an elementwise record
            assert PRIMITIVES[name].elementwise, name


F = Type("float")
I = Type("int")  # noqa: E741
B = Type("bool")
ND = Type("float", ("N", "D"))
N_ = Type("float", ("N",))
D_ = Type("float", ("D",))
IN = Type("int", ("N",))

#: (primitive, argument types, params, argument atoms, result): what NumPy gives
CASES: list[tuple[str, list[Type], dict, tuple, Type]] = [
    ("add", [ND, D_], {}, (), ND),
    ("gt", [ND, F], {}, (), Type("bool", ("N", "D"))),
    ("sign", [I], {}, (), I),
    ("where", [Type("bool", ("N",)), N_, F], {}, (), N_),
    ("matvec", [ND, D_], {}, (), N_),
    ("dot", [D_, D_], {}, (), F),
    ("outer", [N_, D_], {}, (), ND),
    ("sum", [ND], {"axis": 0, "keepdims": False}, (), D_),
    ("mean", [Type("int", ("N", "D"))], {"axis": 1}, (), N_),
    ("shift", [ND], {"axis": -1}, (), Type("float", ("N", 1))),
    ("squeeze", [Type("float", ("N", 1))], {"axis": 1}, (), N_),
    ("expand_dims", [D_], {"axis": 0}, (), Type("float", (1, "D"))),
    ("expand_dims", [N_], {"axis": (0, 2)}, (), Type("float", (1, "N", 1))),
    ("transpose", [ND], {}, (), Type("float", ("D", "N"))),
    (
        "reshape",
        [ND, I, I],
        {},
        (Var("a"), Var("D"), Var("N")),
        Type("float", ("D", "N")),
    ),
    (
        "reshape",
        [N_, I, I],
        {},
        (Var("a"), Var("N"), Const(1, "1")),
        Type("float", ("N", 1)),
    ),
    ("reshape_like", [Type("float", ("N", 1)), N_], {}, (), N_),
    ("expand", [D_, ND], {"axis": 0, "keepdims": False}, (), ND),
    ("expand", [F, ND], {"axis": None, "keepdims": False}, (), ND),
    ("count", [ND], {"axis": 0}, (), I),
    ("dim", [ND], {"axis": 1}, (), I),
    ("arange", [I], {"length": "N"}, (), IN),
    ("gather", [Type("float", ("N", "C")), IN, IN], {}, (), N_),
    ("gather", [ND, IN], {}, (), ND),
    (
        "scatter_add",
        [Type("float", ("N", "C")), IN, IN, N_],
        {},
        (),
        Type("float", ("N", "C")),
    ),
    ("slice", [ND], {"index": "1:, 0"}, (), Type("float", (symbol("N") - 1,))),
    ("slice", [Type("float", (5, "D"))], {"index": "::2"}, (), Type("float", (3, "D"))),
    ("unslice", [ND, Type("float", (symbol("N") - 1,))], {"index": "1:, 0"}, (), ND),
    ("copy", [IN], {}, (), IN),
    ("zeros_like", [IN], {}, (), N_),
    ("as_float", [I], {}, (), F),
    ("broadcast_like", [F, ND], {}, (), ND),
    ("broadcast_to", [D_, ND], {}, (), ND),
]


@pytest.mark.parametrize(("prim", "types", "params", "args", "want"), CASES)
def test_shape_rule(prim: str, types: list[Type], params: dict, args, want) -> None:
    assert infer(prim, types, params, "in 'test'", "<test>", args) == want


@pytest.mark.parametrize(
    ("prim", "types", "params", "args", "message"),
    [
        (
            "reshape",
            [N_, I, I],
            {},
            (Var("a"), Var("N"), Const(2, "2")),
            "cannot reshape (N,) into (N, 2)",
        ),
        (
            "slice",
            [Type("float", (3,))],
            {"index": "5"},
            (),
            "index 5 is out of range for axis 0 of size 3",
        ),
        (
            "slice",
            [N_],
            {"index": "::2"},
            (),
            "cannot slice symbolic dimension N with a step",
        ),
        ("gather", [N_, N_], {}, (), "an index must be an integer array"),
        ("matmul", [D_, ND], {}, (), "'@' inner dimensions differ"),
        ("broadcast_to", [ND, D_], {}, (), "does not broadcast to (D,)"),
        ("frobnicate", [F], {}, (), "no shape rule for 'frobnicate'"),
    ],
)
def test_shape_rule_errors(prim, types, params, args, message) -> None:
    with pytest.raises(ShapeError) as info:
        infer(prim, types, params, "in 'test'", "<test>:1", args)
    assert message in info.value.message
    assert info.value.message.startswith("in 'test': ")
    assert info.value.where == "<test>:1"


@pytest.mark.parametrize("text", ["1:3, 0", "-1", ":-1", "1:", "::2", "0:5:2, :, 3"])
def test_index_text_round_trips(text: str) -> None:
    assert index_text(parse_index(text)) == text


def test_type_expr_types_trees() -> None:
    g = Var("g")
    tree = Op("sum", (Op("mul", (g, Var("x"))),), (("axis", 0), ("keepdims", False)))
    assert type_expr(tree, {"g": ND, "x": D_}) == D_
    assert type_expr(Const(2, "2"), {}) == I
    assert type_expr(Var("unknown"), {}) == SCALAR


def _mismatches(program) -> list[str]:
    derived = type_program(program)
    return [
        f"{name}: recorded {program.types.get(name)}, derived {kind}"
        for name, kind in derived.items()
        if program.types.get(name) != kind
    ]


@pytest.mark.parametrize("entry", GALLERY, ids=[e.name for e in GALLERY])
def test_recorded_types_are_the_derived_ones(entry) -> None:
    """linearize and reverse type every name as the rules do."""
    compiled = compile_source(entry.source, entry.options, entry.where)
    for program in (compiled.forward, compiled.reverse):
        assert _mismatches(program) == []
        assert set(type_program(program)) == set(program.types)


def test_prepare_keeps_every_name_typed() -> None:
    """After ``prepare`` (what second order runs) every name of every gallery
    program's reverse program is recorded with its true type."""
    problems: list[str] = []
    for entry in GALLERY:
        program = prepare(
            compile_source(entry.source, entry.options, entry.where).reverse
        )
        missing = [n for n in type_program(program) if n not in program.types]
        problems += [f"{entry.name}: {n} has no type" for n in missing]
        problems += [f"{entry.name}: {m}" for m in _mismatches(program)]
    assert problems == []


# --- linearize builds every statement with the rules, shared like the rest ----------


@pytest.mark.parametrize(
    "expression",
    ["x[1:3]", "x[y]", "reshape(x, 4, N)", "x.T", "sum(x, axis=0)"],
)
def test_repeated_subexpressions_are_computed_once(expression: str) -> None:
    source = f"x: array[N, 4]\ny: int[N]\nf = sum({expression} * {expression})\n"
    program = linearize(parse(source, "<test>"))
    ops = [s.expr for s in program.stmts if isinstance(s.expr, Op)]
    assert len(ops) == len(set(ops)), [str(op) for op in ops]
    assert _mismatches(program) == []


def test_constant_checks_cover_copies() -> None:
    """A constant assigned as is gets the check a constant in an operation gets."""
    big = "1" + "0" * 400
    with pytest.raises(InputError, match="too large for a float"):
        linearize(parse(f"q = {big}\nf = q * x\n", "<test>"))
