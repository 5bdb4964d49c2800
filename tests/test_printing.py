"""Stage tests of the printer (no parser, no reverse mode, no template): every backend's
table covers the primitives that can reach it, a backend never borrows another's code,
precedence survives a round trip through Python's own parser, lines that fit are what
black writes, and the import lines follow from what was printed."""

from __future__ import annotations

import ast
import random
from fractions import Fraction

import pytest
from conftest import GENERATED, REPO

from codegen import chunks
from codegen.backends import BACKENDS as BACKEND_RECORDS
from codegen.errors import MissingRuleError
from codegen.evaluate import load_module
from codegen.formatting import LINE_LENGTH, format_black
from codegen.generate import Options, compile_source, generate
from codegen.ir import Const, Expr, Op, Stmt, Var
from codegen.primitives import ARITY, ARRAY_PRIMITIVES, VARIADIC
from codegen.printing import (
    MATH,
    MODULES,
    NUMPY,
    SOURCE,
    TABLES,
    Printer,
    source_statement,
)
from codegen.regen import load_manifest

BACKENDS = tuple(BACKEND_RECORDS)

#: scalar primitives the math backend cannot print (say why beside each): none today
NUMPY_ONLY: frozenset[str] = frozenset()

#: static options a sample of the primitive needs
PARAMS: dict[str, tuple[tuple[str, object], ...]] = {
    "slice": (("index", "1:3, 0"),),
    "unslice": (("index", "1:3, 0"),),
    "expand_dims": (("axis", 0),),
    "dim": (("axis", 1),),
    "sum": (("axis", 1), ("keepdims", True)),
    "expand": (("axis", 1),),
    "count": (("axis", (0, 1)),),
}


def sample(prim: str) -> Op:
    """The primitive applied to names ``a``, ``b``, ``c`` (three for a variadic one)."""
    arity = ARITY[prim]
    count = 3 if arity == VARIADIC else arity
    return Op(prim, tuple(Var(n) for n in "abc"[:count]), PARAMS.get(prim, ()))


# -- completeness -----------------------------------------------------------------------


def test_backends_have_tables() -> None:
    assert set(TABLES) == {*BACKENDS, "source"}
    assert TABLES["numpy"][0] is NUMPY
    assert TABLES["math"][0] is MATH
    assert TABLES["source"][0] is SOURCE


def test_numpy_prints_every_primitive() -> None:
    assert set(NUMPY) == set(ARITY)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_table_covers_what_its_record_accepts(backend: str) -> None:
    """A backend that takes arrays prints every primitive; one that does not prints
    every scalar primitive and nothing that could only come from arrays."""
    table = TABLES[backend][0]
    if BACKEND_RECORDS[backend].arrays:
        assert set(table) == set(ARITY)
    else:
        assert set(table) == set(ARITY) - ARRAY_PRIMITIVES - NUMPY_ONLY


def test_math_prints_every_scalar_primitive_and_no_array_primitive() -> None:
    assert set(MATH) == set(ARITY) - ARRAY_PRIMITIVES - NUMPY_ONLY
    assert not set(MATH) & ARRAY_PRIMITIVES


def test_source_notation_prints_every_primitive() -> None:
    """Comments show any statement, those of a backward program differentiated again
    included."""
    assert set(SOURCE) == set(ARITY)


@pytest.mark.parametrize("backend", [*BACKENDS, "source"])
def test_every_printing_function_prints_python(backend: str) -> None:
    """Each entry of the table prints parseable code that names only its own backend's
    module (a helper it calls, the numpy sigmoid, may use math for numbers), and the
    printer notes exactly the modules the text and its helpers name."""
    table = TABLES[backend][0]
    for prim in table:
        printer = Printer(backend)
        text = printer.statement(Stmt("t", sample(prim)))
        whole = "\n".join([text, *printer.helper_lines()])
        ast.parse(whole)
        assert ("np." in whole) == ("numpy" in printer.modules), (prim, text)
        assert ("math." in whole) == ("math" in printer.modules), (prim, text)
        if backend == "math":
            assert "np." not in whole, (prim, text)
        if backend == "numpy":
            assert "math." not in text, (prim, text)
        if backend == "source":
            assert not printer.modules, (prim, text)


# -- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("prim", sorted(ARRAY_PRIMITIVES))
def test_math_refuses_array_primitives(prim: str) -> None:
    """Never ``np.`` code in a math module: a clear error naming primitive and backend."""
    printer = Printer("math")
    with pytest.raises(MissingRuleError, match=rf"'{prim}'.*math backend"):
        printer.statement(Stmt("t", sample(prim)))
    with pytest.raises(MissingRuleError, match=rf"'{prim}'.*math backend"):
        printer.expr(Op("add", (Var("x"), sample(prim))))
    assert not printer.modules


def test_unknown_primitive_is_named() -> None:
    for backend in (*BACKENDS, "source"):
        with pytest.raises(MissingRuleError, match=rf"'frobnicate'.*{backend} backend"):
            Printer(backend).expr(Op("frobnicate", (Var("x"),)))


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="jax"):
        Printer("jax")


@pytest.mark.parametrize("prim", ["scatter_add", "unslice"])
def test_statement_primitives_are_whole_statements(prim: str) -> None:
    """``np.add.at`` returns nothing: a scatter-add is the whole right side of a plain
    assignment, never nested and never accumulated into."""
    printer = Printer("numpy")
    lines = printer.statement(Stmt("t", sample(prim))).split("\n")
    assert len(lines) == 2
    assert lines[0] == "t = np.zeros_like(a, dtype=float)"
    with pytest.raises(MissingRuleError, match=rf"'{prim}'.*not inside an expression"):
        printer.expr(Op("mul", (sample(prim), Var("x"))))
    with pytest.raises(MissingRuleError, match=rf"'{prim}'.*accumulate"):
        printer.statement(Stmt("t", sample(prim), accumulate=True))


# -- operators: precedence through Python's own parser ---------------------------------

_BINOPS = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
}
_CMPOPS = {
    ast.Gt: "gt",
    ast.Lt: "lt",
    ast.Eq: "eq",
    ast.GtE: "ge",
    ast.LtE: "le",
    ast.NotEq: "ne",
}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    assert isinstance(node, ast.Attribute), ast.dump(node)
    return f"{_dotted(node.value)}.{node.attr}"


def from_ast(node: ast.AST) -> tuple:
    """The structure Python reads: nested tuples like the IR's."""
    match node:
        case ast.Expression(body=body):
            return from_ast(body)
        case ast.Name() | ast.Attribute():
            return ("name", _dotted(node))
        case ast.Constant(value=value):
            return ("const", value)
        case ast.BinOp(left=left, op=op, right=right):
            return (_BINOPS[type(op)], from_ast(left), from_ast(right))
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return ("neg", from_ast(operand))
        case ast.Compare(left=left, ops=[op], comparators=[right]):
            return (_CMPOPS[type(op)], from_ast(left), from_ast(right))
        case ast.Call(func=func, args=args, keywords=[]):
            return ("call", _dotted(func), *(from_ast(a) for a in args))
        case ast.Call(func=func, args=args, keywords=keywords):
            named = ((k.arg, from_ast(k.value)) for k in keywords)
            return ("call", _dotted(func), *(from_ast(a) for a in args), *named)
        case ast.IfExp(test=test, body=body, orelse=orelse):
            return ("where", from_ast(test), from_ast(body), from_ast(orelse))
    raise AssertionError(f"unexpected syntax: {ast.dump(node)}")


_OPERATOR_PRIMS = (
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "gt",
    "lt",
    "eq",
    "ge",
    "le",
    "ne",
)
_CALLED = {  # backend -> primitive -> the function printed
    "numpy": {"exp": "np.exp", "abs": "np.abs", "sign": "np.sign", "where": "np.where"},
    "math": {"exp": "math.exp", "abs": "abs", "max": "max", "min": "min"},
    "source": {name: name for name in ("exp", "abs", "sign", "max", "min", "where")},
    "torch": {
        "exp": "torch.exp",
        "abs": "abs",
        "sign": "torch.sign",
        "where": "torch.where",
    },
}
_PI = {"numpy": "np.pi", "math": "math.pi", "source": "pi", "torch": "math.pi"}


def _number(node: Expr) -> bool:
    """Constants alone (no name): a plain number, which torch prints with math."""
    if isinstance(node, Const):
        return True
    return isinstance(node, Op) and all(_number(a) for a in node.args)


def _square_of_name(node: Op) -> bool:
    base, exponent = node.args
    return (
        isinstance(base, Var) and isinstance(exponent, Const) and exponent.text == "2"
    )


def expected(node: Expr, backend: str) -> tuple:
    """The structure the printed text must parse to."""
    if isinstance(node, Var):
        return ("name", node.name)
    if isinstance(node, Const):
        if node.text == "pi":
            return ("name", _PI[backend])
        return from_ast(ast.parse(node.text, mode="eval"))
    args = [expected(a, backend) for a in node.args]
    if node.prim == "pow" and backend == "math" and _square_of_name(node):
        return ("mul", args[0], args[0])  # t * t
    if node.prim in _OPERATOR_PRIMS:
        return (node.prim, *args)
    if node.prim == "neg":
        return ("neg", *args)
    if backend == "torch" and _number(node):
        return expected(node, "math")  # plain numbers: no tensor, as math prints
    if node.prim == "where" and backend == "math":
        return ("where", *args)
    if node.prim == "sign" and backend == "math":  # 1.0 if a > 0 else ...
        zero, one = ("const", 0), ("const", 1.0)
        minus_one = from_ast(ast.parse("-1.0", mode="eval"))
        inner = ("where", ("lt", args[0], zero), minus_one, ("const", 0.0))
        return ("where", ("gt", args[0], zero), one, inner)
    if node.prim in ("max", "min") and backend == "torch":
        # tensors nested in torch.maximum, then each constant as a clamp bound
        name = "torch.maximum" if node.prim == "max" else "torch.minimum"
        bound = "min" if node.prim == "max" else "max"
        tensors = [a for a, n in zip(args, node.args, strict=True) if not _number(n)]
        constants = [a for a, n in zip(args, node.args, strict=True) if _number(n)]
        nested = tensors[0]
        for arg in tensors[1:]:
            nested = ("call", name, nested, arg)
        for const in constants:
            nested = ("call", "torch.clamp", nested, (bound, const))
        return nested
    if node.prim in ("max", "min") and backend == "numpy":
        name = "np.maximum" if node.prim == "max" else "np.minimum"
        nested = args[0]
        for arg in args[1:]:
            nested = ("call", name, nested, arg)
        return nested
    return ("call", _CALLED[backend][node.prim], *args)


_LEAVES: tuple[Expr, ...] = (
    Var("x"),
    Var("y_1"),
    Const(2, "2"),
    Const(-3, "-3"),
    Const(0.5, "0.5"),
    Const(-2.5, "-2.5"),
    Const(1e-3, "1e-3"),
    Const(Fraction(1, 3), "1 / 3"),
    Const(Fraction(-2, 3), "-2 / 3"),
    Const(3.141592653589793, "pi"),
)


def random_tree(rng: random.Random, depth: int) -> Expr:
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(_LEAVES)
    kind = rng.random()
    if kind < 0.55:
        prim = rng.choice(("add", "sub", "mul", "div", "pow", "add", "sub", "mul"))
    elif kind < 0.7:
        return Op("neg", (random_tree(rng, depth - 1),))
    elif kind < 0.8:
        prim = rng.choice(_OPERATOR_PRIMS[5:])
    elif kind < 0.88:
        n = rng.choice((2, 3))
        return Op(
            rng.choice(("max", "min")),
            tuple(random_tree(rng, depth - 1) for _ in range(n)),
        )
    elif kind < 0.94:
        return Op("where", tuple(random_tree(rng, depth - 1) for _ in range(3)))
    else:
        return Op(rng.choice(("exp", "abs", "sign")), (random_tree(rng, depth - 1),))
    return Op(prim, (random_tree(rng, depth - 1), random_tree(rng, depth - 1)))


def _assigned(text: str) -> tuple:
    (stmt,) = ast.parse(text).body
    assert isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
    return from_ast(stmt.value)


@pytest.mark.parametrize("backend", [*BACKENDS, "source"])
def test_precedence_round_trips_through_ast(backend: str) -> None:
    """Random trees of operators, calls and constants (negative, rational, pi) print as
    text that Python parses back to the same tree: no missing parentheses, no chained
    comparisons, no unary minus swallowed by ``**``."""
    rng = random.Random(f"precedence-{backend}")
    for _ in range(400):
        tree = random_tree(rng, rng.randint(1, 5))
        printer = Printer(backend)
        text = printer.expr(tree)
        assert from_ast(ast.parse(text, mode="eval")) == expected(tree, backend), text
        # the same through statement(), plain and accumulating
        assert _assigned(printer.statement(Stmt("t", tree))) == expected(tree, backend)
        line = printer.statement(Stmt("t", tree, accumulate=True))
        if isinstance(tree, Op) and tree.prim == "neg":
            want = ("sub", ("name", "t"), expected(tree.args[0], backend))
        else:
            want = ("add", ("name", "t"), expected(tree, backend))
        assert _assigned(line) == want, line


@pytest.mark.parametrize("backend", BACKENDS)
def test_lines_that_fit_are_what_black_writes(backend: str) -> None:
    """The printer's spacing and parentheses are black's, so short lines need no black."""
    rng = random.Random(f"black-{backend}")
    checked = 0
    for _ in range(150):
        tree = random_tree(rng, rng.randint(1, 4))
        for stmt in (Stmt("t", tree), Stmt("t", tree, accumulate=True)):
            line = Printer(backend).statement(stmt)
            if len(line) <= LINE_LENGTH:
                assert format_black(line + "\n") == line + "\n"
                checked += 1
    assert checked > 200


@pytest.mark.parametrize(
    ("tree", "numpy", "math"),
    [
        (Var("x") ** Const(2, "2"), "x**2", "x * x"),
        (-(Var("x") ** Const(2, "2")), "-(x**2)", "-(x * x)"),
        (Const(-2, "-2") ** Var("x"), "(-2) ** x", "(-2) ** x"),
        (Var("x") ** Const(Fraction(1, 3), "1 / 3"), "x ** (1 / 3)", "x ** (1 / 3)"),
        (Var("x") - (Var("y") - Var("z")), "x - (y - z)", "x - (y - z)"),
        (Op("neg", (Const(-2, "-2"),)), "-(-2)", "-(-2)"),
        (
            Op("gt", (Op("gt", (Var("a"), Var("b"))), Var("c"))),
            "(a > b) > c",
            "(a > b) > c",
        ),
        (Op("exp", (Const(1.0, "pi"),)), "np.exp(np.pi)", "math.exp(math.pi)"),
        (
            Op("where", (Op("gt", (Var("x"), Const(0, "0"))), Var("x"), Const(0, "0"))),
            "np.where(x > 0, x, 0)",
            "x if x > 0 else 0",
        ),
    ],
)
def test_examples(tree: Expr, numpy: str, math: str) -> None:
    assert Printer("numpy").expr(tree) == numpy
    assert Printer("math").expr(tree) == math


def test_source_statement() -> None:
    stmt = Stmt("f", Op("sigmoid", (Var("e"),)))
    assert source_statement(stmt) == "f = sigmoid(e)"
    total = Stmt("t", Op("sum", (Var("a"),), (("axis", 1), ("keepdims", False))))
    assert source_statement(total) == "t = a.sum(axis=1)"


# -- imports ----------------------------------------------------------------------------

NAMEDTUPLE = "from collections import namedtuple"


def test_imports_follow_what_was_printed() -> None:
    x, y = Var("x"), Var("y")
    for backend in (*BACKENDS, "source"):
        printer = Printer(backend)
        assert printer.imports() == ()
        printer.expr(x * y + Const(2, "2"))
        assert printer.imports() == ()
        assert printer.imports(NAMEDTUPLE) == (NAMEDTUPLE,)
    math = Printer("math")
    math.expr(Op("abs", (x,)) + Op("max", (x, y)))  # builtins: no module
    assert math.imports() == ()
    math.expr(Op("exp", (x,)))
    assert math.imports() == ("import math",)
    assert math.imports(NAMEDTUPLE) == ("import math", NAMEDTUPLE)
    numpy = Printer("numpy")
    numpy.statement(Stmt("t", Op("abs", (x,))))
    assert numpy.imports() == ("import numpy as np",)
    assert numpy.imports(NAMEDTUPLE) == (NAMEDTUPLE, "", "import numpy as np")
    pi = Printer("math")
    pi.expr(x * Const(3.141592653589793, "pi"))
    assert pi.modules == {"math"}


def test_imports_are_deterministic() -> None:
    """The order of printing does not change the lines; every module sorts into its
    isort section."""
    x = Var("x")
    first, second = Printer("math"), Printer("math")
    first.expr(Op("exp", (x,)))
    first.expr(Op("sin", (x,)))
    second.expr(Op("sin", (x,)))
    second.expr(Op("exp", (x,)))
    assert first.imports(NAMEDTUPLE) == second.imports(NAMEDTUPLE)
    printer = Printer("numpy")
    printer._used.update(MODULES)  # every module at once: sections, then isort order
    assert printer.imports(NAMEDTUPLE) == (
        "import math",
        NAMEDTUPLE,
        "",
        "import numpy as np",
        "import torch",
    )


def _import_block(module_text: str) -> tuple[str, ...]:
    """The lines between the header docstring and ``INPUTS = ...``."""
    after_doc = module_text.split('"""\n\n', 1)[1]
    return tuple(after_doc.split("\n\nINPUTS = ", 1)[0].split("\n"))


MANIFEST = load_manifest(REPO / "pyproject.toml")


def _names(compiled) -> set[str]:  # noqa: ANN001
    stmts = compiled.forward.stmts + compiled.reverse.stmts
    return {*compiled.forward.inputs, *(s.target for s in stmts)}


@pytest.mark.parametrize("entry", MANIFEST.entries, ids=lambda e: e.name)
def test_imports_match_the_gallery(entry) -> None:  # noqa: ANN001
    """Printing a gallery program's statements gives the import lines its checked-in
    module has."""
    compiled = compile_source(entry.source, entry.options)
    printer = Printer(entry.options.backend, taken=_names(compiled))
    for stmt in compiled.forward.stmts + compiled.reverse.stmts:
        printer.statement(stmt)
    module = (GENERATED / f"{entry.name}.py").read_text(encoding="utf-8")
    helper = (chunks.IMPORT,) if entry.options.chunks else ()
    assert printer.imports(NAMEDTUPLE, *helper) == _import_block(module)


@pytest.mark.parametrize(
    ("source", "backend"),
    [("x * y", "math"), ("exp(x) * y", "math"), ("x * y", "numpy"), ("pi * x", "math")],
)
def test_imports_match_generated_modules(source: str, backend: str) -> None:
    compiled = compile_source(source, Options(backend=backend))
    printer = Printer(backend, taken=_names(compiled))
    for stmt in compiled.forward.stmts + compiled.reverse.stmts:
        printer.statement(stmt)
    module = generate(source, Options(backend=backend))
    assert printer.imports(NAMEDTUPLE) == _import_block(module)
    if backend == "math":
        assert "np." not in module


# -- the math backend's faster spellings ------------------------------------------------


def test_math_sign_of_abs_is_the_old_formula() -> None:
    """abs' prints as a conditional expression with the values of
    ``float(t > 0) - float(t < 0)``: 0.0 at 0, -0.0 and nan, for floats and
    np.float64 alike."""
    import math

    import numpy as np

    text = generate("f = abs(x)", Options(backend="math"))
    assert "float(" not in text
    module = load_module(text)
    for x in (0.0, -0.0, math.nan, math.inf, -math.inf, 1.5, -1.5, 5e-324, -5e-324):
        for arg in (x, np.float64(x)):
            _, (dx,) = module.forward_backward(arg, 2.0)
            want = 2.0 * (float(x > 0) - float(x < 0))
            assert dx == want and math.copysign(1, dx) == math.copysign(1, want)


def test_math_squares_are_products() -> None:
    """tanh' = 1 - t * t (one multiplication, correctly rounded), to the bit."""
    import math
    import random

    text = generate("f = tanh(x) + x**2", Options(backend="math"))
    assert "**2" not in text.split("def forward(")[1].split("#")[0]
    module = load_module(text)
    rng = random.Random(3)
    for _ in range(200):
        x = rng.uniform(-4, 4)
        t = math.tanh(x)
        value, (dx,) = module.forward_backward(x)
        assert value == t + x * x
        assert dx == 1.0 * (1 - t * t) + 1.0 * 2 * x


def test_math_functions_imported_by_name_unless_a_name_takes_them() -> None:
    """``from math import exp`` for the names no variable of the module takes;
    ``math.exp`` for one that does, and where the module's names are unknown."""
    expr = Op("add", (Op("exp", (Var("x"),)), Op("cos", (Var("x"),))))
    free = Printer("math", taken={"x"})
    assert free.expr(expr) == "exp(x) + cos(x)"
    assert free.imports() == ("from math import cos, exp",)
    clash = Printer("math", taken={"x", "exp"})
    assert clash.expr(expr) == "math.exp(x) + cos(x)"
    assert clash.imports() == ("import math", "from math import cos")
    unknown = Printer("math")
    assert unknown.expr(expr) == "math.exp(x) + math.cos(x)"
    assert unknown.imports() == ("import math",)
