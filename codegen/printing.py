"""Statements -> Python source lines for a backend: ``numpy``, ``math`` or ``source``
(the user's own notation, for comments).

The printer writes what black would write for a line that fits (spacing, parentheses,
``x**2`` hugging), so large modules can skip black; ``tests/test_formatting.py`` holds it
to that.  It never renames: names are fixed before printing.
"""

from __future__ import annotations

from dataclasses import dataclass

from codegen.errors import MissingRuleError
from codegen.ir import Const, Expr, Op, Stmt, Var

BACKENDS = ("numpy", "math")

ATOM = 14
POW = 13
UNARY = 12
MUL = 11
ADD = 10
CMP = 6
COND = 1

_BINARY = {
    "add": ("+", ADD),
    "sub": ("-", ADD),
    "mul": ("*", MUL),
    "div": ("/", MUL),
    "matmul": ("@", MUL),
    "matvec": ("@", MUL),
    "vecmat": ("@", MUL),
    "dot": ("@", MUL),
    "gt": (">", CMP),
    "lt": ("<", CMP),
    "eq": ("==", CMP),
    "ge": (">=", CMP),
    "le": ("<=", CMP),
    "ne": ("!=", CMP),
}

_METHODS = {"sum": "sum", "mean": "mean", "amax": "max", "amin": "min"}


def _axis_text(axis: object) -> str:
    return repr(axis)


def _reduce_args(params: dict) -> str:
    parts = []
    if params.get("axis") is not None:
        parts.append(f"axis={_axis_text(params['axis'])}")
    if params.get("keepdims"):
        parts.append("keepdims=True")
    return ", ".join(parts)


_CALLS = {
    "numpy": {
        "exp": "np.exp",
        "log": "np.log",
        "sqrt": "np.sqrt",
        "sin": "np.sin",
        "cos": "np.cos",
        "tan": "np.tan",
        "tanh": "np.tanh",
        "abs": "np.abs",
        "sign": "np.sign",
    },
    "math": {
        "exp": "math.exp",
        "log": "math.log",
        "sqrt": "math.sqrt",
        "sin": "math.sin",
        "cos": "math.cos",
        "tan": "math.tan",
        "tanh": "math.tanh",
        "abs": "abs",
    },
    "source": {
        name: name
        for name in "exp log sqrt sin cos tan tanh abs sign sigmoid relu".split()
    },
}

_PI = {"numpy": "np.pi", "math": "math.pi", "source": "pi"}

_ARRAY_SOURCE = frozenset(
    {"transpose", "gather", "slice", "sum", "mean", "amax", "amin", "broadcast_to"}
)


@dataclass(frozen=True, slots=True)
class _Text:
    text: str
    prec: int
    simple: bool = False  # a NAME, number or attribute chain: black hugs ``**`` on it


def _const(const: Const, backend: str) -> _Text:
    if const.text == "pi":
        return _Text(_PI[backend], ATOM, True)
    text = const.text
    if " / " in text:  # a rational, -2 / 3 included: a quotient, not a unary minus
        return _Text(text, MUL)
    if text.startswith("-"):
        return _Text(text, UNARY, True)
    return _Text(text, ATOM, True)


def _wrap(part: _Text, needs: bool) -> str:
    return f"({part.text})" if needs else part.text


class Printer:
    def __init__(self, backend: str) -> None:
        if backend not in _CALLS:
            raise ValueError(f"unknown backend {backend!r}")
        self.backend = backend

    def expr(self, root: Expr) -> str:
        return self._print(root).text

    def _print(self, node: Expr) -> _Text:
        # backward expressions are small trees; forward statements are one level deep
        if isinstance(node, Var):
            return _Text(node.name, ATOM, True)
        if isinstance(node, Const):
            return _const(node, self.backend)
        return self._op(node)

    def _call(self, name: str, *args: Expr) -> _Text:
        inner = ", ".join(self._print(a).text for a in args)
        return _Text(f"{name}({inner})", ATOM)

    def _op(self, op: Op) -> _Text:
        prim, args, b = op.prim, op.args, self.backend
        if prim in _BINARY:
            symbol, prec = _BINARY[prim]
            left, right = self._print(args[0]), self._print(args[1])
            lhs = _wrap(left, left.prec < prec)
            rhs = _wrap(right, right.prec <= prec)
            return _Text(f"{lhs} {symbol} {rhs}", prec)
        if prim == "pow":
            left, right = self._print(args[0]), self._print(args[1])
            lhs = _wrap(left, left.prec <= POW)
            rhs = _wrap(right, right.prec < UNARY)
            hug = left.simple and left.prec > POW and right.simple
            return _Text(f"{lhs}**{rhs}" if hug else f"{lhs} ** {rhs}", POW)
        if prim == "neg":
            inner = self._print(args[0])
            needs = inner.prec < ATOM or inner.text.startswith("-")
            simple = inner.simple and not needs
            return _Text("-" + _wrap(inner, needs), UNARY, simple)
        if prim in _CALLS[b]:
            return self._call(_CALLS[b][prim], *args)
        if prim == "sign":  # math backend: sign(0) = 0
            a = self._print(args[0]).text
            return _Text(f"({a} > 0) - ({a} < 0)", ADD)
        if prim == "sigmoid":
            return self._sigmoid(args[0])
        if prim == "where" and b == "math":
            cond, yes, no = (self._print(a) for a in args)
            text = f"{_wrap(yes, yes.prec <= COND)} if {_wrap(cond, cond.prec <= COND)}"
            return _Text(f"{text} else {_wrap(no, no.prec < COND)}", COND)
        if b != "source" or prim in _ARRAY_SOURCE:
            array = self._array(op)
            if array is not None:
                return array
        if prim == "relu":
            if b == "source":
                return self._call("relu", *args)
            if b == "numpy":
                return self._call("np.maximum", Const(0, "0"), args[0])
            return self._call("max", Const(0.0, "0.0"), args[0])
        if prim in ("max", "min"):
            if b == "numpy":
                name = "np.maximum" if prim == "max" else "np.minimum"
                text = self._print(args[0]).text
                for arg in args[1:]:
                    text = f"{name}({text}, {self._print(arg).text})"
                return _Text(text, ATOM)
            return self._call(prim, *args)
        if prim == "copy" and b != "numpy":
            return self._print(args[0])
        if prim == "zeros_like":
            if b == "numpy":
                return _Text(f"np.zeros_like({self.expr(args[0])}, dtype=float)", ATOM)
            if b == "math":
                return _Text("0.0", ATOM, True)
            return self._call("zeros_like", *args)
        if prim == "as_float":
            return self._call("float", *args)
        if prim == "broadcast_like":
            g, like = (self.expr(a) for a in args)
            if b == "numpy":
                return _Text(f"{g} + np.zeros_like({like})", ADD)
            return _Text(g, ATOM, True)
        if b == "source":
            options = [f"{k}={v!r}" for k, v in op.params]
            inner = ", ".join([self._print(a).text for a in args] + options)
            return _Text(f"{prim}({inner})", ATOM)
        raise MissingRuleError(f"no printer for primitive '{prim}' ({b} backend)")

    def _receiver(self, node: Expr) -> str:
        part = self._print(node)
        return _wrap(part, part.prec < ATOM or part.text.startswith("-"))

    def _array(self, op: Op) -> _Text | None:
        prim, args, params = op.prim, op.args, dict(op.params)
        if prim in _METHODS:
            inner = _reduce_args(params)
            return _Text(f"{self._receiver(args[0])}.{_METHODS[prim]}({inner})", ATOM)
        if prim == "shift":
            keep = dict(params, keepdims=True)
            return _Text(f"{self._receiver(args[0])}.max({_reduce_args(keep)})", ATOM)
        if prim == "squeeze":
            axis = params.get("axis")
            inner = self.expr(args[0])
            if axis is None:
                return _Text(f"np.squeeze({inner})", ATOM)
            return _Text(f"np.squeeze({inner}, axis={_axis_text(axis)})", ATOM)
        if prim == "reshape":
            dims = ", ".join(self.expr(a) for a in args[1:])
            return _Text(f"{self._receiver(args[0])}.reshape({dims})", ATOM)
        if prim == "reshape_like":
            like = self._receiver(args[1])
            return _Text(f"{self._receiver(args[0])}.reshape({like}.shape)", ATOM)
        if prim == "transpose":
            return _Text(f"{self._receiver(args[0])}.T", ATOM)
        if prim == "broadcast_to":
            # a fresh float array: gradients are float64 whatever the caller passed
            g, like = self.expr(args[0]), self._receiver(args[1])
            return _Text(f"np.broadcast_to({g}, {like}.shape).astype(float)", ATOM)
        if prim == "outer":
            return self._call("np.outer", *args)
        if prim == "expand":
            # a new array shaped like ``like``, filled with g (broadcast)
            g, like = self.expr(args[0]), self.expr(args[1])
            axis = params.get("axis")
            if axis is not None and not params.get("keepdims"):
                g = f"np.expand_dims({g}, {_axis_text(axis)})"
            return _Text(f"np.full_like({like}, {g}, dtype=float)", ATOM)
        if prim == "copy":
            return _Text(f"{self._receiver(args[0])}.copy()", ATOM)
        if prim == "expand_dims":
            inner = self.expr(args[0])
            return _Text(f"np.expand_dims({inner}, {_axis_text(params['axis'])})", ATOM)
        if prim == "count":
            a = self._receiver(args[0])
            axis = params.get("axis")
            if axis is None:
                return _Text(f"{a}.size", ATOM)
            axes = axis if isinstance(axis, tuple) else (axis,)
            text = " * ".join(f"{a}.shape[{k}]" for k in axes)
            return _Text(text, ATOM if len(axes) == 1 else MUL)
        if prim == "dim":
            return _Text(f"{self._receiver(args[0])}.shape[{params['axis']}]", ATOM)
        if prim == "arange":
            return self._call("np.arange", *args)
        if prim == "where":
            return self._call("np.where", *args)
        if prim == "slice":
            return _Text(f"{self._receiver(args[0])}[{params['index']}]", ATOM)
        if prim == "gather":
            index = ", ".join(self.expr(a) for a in args[1:])
            return _Text(f"{self._receiver(args[0])}[{index}]", ATOM)
        return None

    def _sigmoid(self, arg: Expr) -> _Text:
        """exp(min(x, 0)) / (1 + exp(-|x|)): 1 / (1 + exp(-x)) for x >= 0 and
        exp(x) / (1 + exp(x)) below, in one expression; no exp of a positive number,
        so no overflow or warning at +-1000, and accurate to a few ulp everywhere."""
        x = self.expr(arg)
        if self.backend == "numpy":
            text = f"np.exp(np.minimum({x}, 0)) / (1 + np.exp(-np.abs({x})))"
        elif self.backend == "math":
            text = f"math.exp(min({x}, 0)) / (1 + math.exp(-abs({x})))"
        else:
            return self._call("sigmoid", arg)
        return _Text(text, MUL)

    def statement(self, stmt: Stmt) -> str:
        expr = stmt.expr
        if isinstance(expr, Op) and expr.prim == "scatter_add":
            # two lines: a fresh zero array, then the scatter-add into it
            like, *index, value = expr.args
            where = ", ".join(self.expr(a) for a in index)
            if len(index) > 1:
                where = f"({where})"
            target = stmt.target
            return (
                f"{target} = np.zeros_like({self.expr(like)}, dtype=float)\n"
                f"np.add.at({target}, {where}, {self.expr(value)})"
            )
        if isinstance(expr, Op) and expr.prim == "unslice":
            like, value = expr.args
            target = stmt.target
            return (
                f"{target} = np.zeros_like({self.expr(like)}, dtype=float)\n"
                f"{target}[{expr.param('index')}] = {self.expr(value)}"
            )
        value = self._print(expr)
        if stmt.accumulate:
            if isinstance(expr, Op) and expr.prim == "neg":
                inner = self._print(expr.args[0])
                return (
                    f"{stmt.target} = {stmt.target} - {_wrap(inner, inner.prec <= ADD)}"
                )
            rhs = _wrap(value, value.prec <= ADD)
            return f"{stmt.target} = {stmt.target} + {rhs}"
        return f"{stmt.target} = {value.text}"


_SOURCE = Printer("source")


def source_statement(stmt: Stmt) -> str:
    """A statement in the user's notation: ``f = sigmoid(e)``."""
    return _SOURCE.statement(stmt)
