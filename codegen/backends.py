"""One record per backend: everything a stage needs to know about it, in one place.

Stages read the record; none compares backend names.  Adding a backend is one record
here and one printing table in :mod:`codegen.printing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import OptionError
from .primitives import VIEWS


@dataclass(frozen=True)
class Backend:
    name: str
    #: takes shape-declared array programs
    arrays: bool
    #: scalar programs run elementwise, so one call evaluates a batch of points; the
    #: upstream gradient is then broadcast to the output's shape first
    elementwise: bool
    #: arrays are mutable: returned gradients must not share one (they are copied)
    mutable: bool
    #: primitives whose result is a view of their first argument's array
    views: frozenset[str]
    #: names its printed code uses (module aliases, builtins it calls)
    reserved: frozenset[str]
    #: the header line saying what the module computes with
    describe_scalar: str
    describe_arrays: str = ""
    #: how a returned matrix (Hessian, Jacobian) is written: nested tuples, or an
    #: array of shape (rows, columns, *batch)
    matrix: str = "tuple"

    #: a module that must be importable to generate for this backend, and the extra
    #: that installs it
    requires: str = ""
    extra: str = ""
    #: has a torch.autograd.Function layout (``--target function``)
    autograd: bool = False
    #: how ``--at`` passes a number: "float", "numpy" (np.float64: NumPy's float rules,
    #: inf and nan as with arrays) or "tensor" (a 0-d float64 tensor)
    numbers: str = "float"
    #: "shape": the upstream gradient is always made a fresh array of the output's
    #: shape, dtype and device (tensors); "" lets :meth:`upstream_policy` decide
    upstream: str = ""
    #: scalar modules can have the ``in_chunks`` helper (``--chunks``): it joins the
    #: slices' NumPy arrays
    chunks: bool = False
    #: primitive -> the arguments its printed code reads only for their shape
    #: (``np.full_like(like, g, dtype=float)``): a layer's cache holds the shape of an
    #: array read only there, and the backward a stand-in made by ``standin`` (a
    #: ``(module, function)`` taking a value and a shape, copying nothing)
    shape_reads: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    standin: tuple[str, str] | None = None

    def upstream_policy(self, arrays: bool) -> str | None:
        """How ``forward_backward`` treats the caller's upstream gradient: typed array
        programs check it (``check``), elementwise backends broadcast it to the
        output's shape (``broadcast``), plain floats take it as it is (None)."""
        if self.upstream:
            return self.upstream
        if arrays:
            return "check"
        return "broadcast" if self.elementwise else None


BACKENDS: dict[str, Backend] = {
    "numpy": Backend(
        name="numpy",
        arrays=True,
        elementwise=True,
        mutable=True,
        views=VIEWS,
        # with the functions the module may define (convolution and pooling)
        reserved=frozenset(
            {
                "np",
                "numpy",
                "float",
                "im2col",
                "col2im",
                "max_pool2d_grad",
                "max_pool2d_tangent",
            }
        ),
        describe_scalar=(
            "Backend: numpy (elementwise: call it with arrays to evaluate many points)."
        ),
        describe_arrays="Backend: numpy (arrays of the shapes above).",
        matrix="array",
        numbers="numpy",
        chunks=True,
        shape_reads={
            "expand": (1,),
            "zeros_like": (0,),
            "broadcast_to": (1,),
            "reshape_like": (1,),
            "scatter_add": (0,),
            "unslice": (0,),
            "count": (0,),
            "dim": (0,),
            "conv2d_grad_input": (2,),
            "avg_pool2d_grad": (1,),
        },
        standin=("numpy", "broadcast_to"),
    ),
    "math": Backend(
        name="math",
        arrays=False,
        elementwise=False,
        mutable=False,
        views=frozenset(),
        reserved=frozenset({"math", "float"}),
        describe_scalar="Backend: math (plain floats, standard library only).",
    ),
    "torch": Backend(
        name="torch",
        arrays=True,
        elementwise=True,
        mutable=True,
        views=VIEWS,
        reserved=frozenset({"torch", "math", "float"}),
        describe_scalar=(
            "Backend: torch (tensors on any device and of any float dtype; "
            "elementwise: call it with tensors to evaluate many points)."
        ),
        describe_arrays=(
            "Backend: torch (tensors of the shapes above, on any device and of any "
            "float dtype)."
        ),
        matrix="",
        upstream="shape",
        requires="torch",
        extra="torch",
        autograd=True,
        numbers="tensor",
    ),
}


def get_backend(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise OptionError(
            f"unknown backend '{name}' (choose {' or '.join(BACKENDS)})", "--backend"
        ) from None
