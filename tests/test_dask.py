"""numpy-backend modules, unchanged, evaluate a batch held in a Dask array chunked over
the batch axis, on the local distributed scheduler: every result stays a lazy dask
array (chunked as the batch is, so no task holds the whole batch) until computed, and
equals the NumPy result.  Which generated constructs are not dask-lazy is pinned by
the last test (and listed in the README).  Skipped without the ``dask`` extra."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pytest
from conftest import REPO, load, load_generated

from codegen.generate import Options

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")

sys.path.insert(0, str(REPO / "benchmarks"))
from bench_scalar import random_dag  # noqa: E402

N = 4_000  # points in the batch
CHUNK = 1_000  # points in a chunk: four chunks, so four tasks per statement
SIZES = {"N": N, "D": 5, "M": 3, "H": 4, "C": 3}


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """A LocalCluster of two one-thread workers in this process (processes=False: they
    talk over dask's in-process transport, no network), started and stopped here."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _leaves(result: object) -> list[object]:
    """The arrays of a function's result: value(s), then gradients or cache fields."""
    if isinstance(result, tuple):
        return [leaf for item in result for leaf in _leaves(item)]
    return [result]


def _arguments(
    module: ModuleType, rng: np.random.Generator
) -> tuple[list[object], list[object]]:
    """NumPy arguments for every input, and the same with each batch-axis input (first
    dimension N, or every input of a scalar module) as a dask array of CHUNK rows."""
    integers = getattr(module, "INTEGERS", {})
    plain: list[object] = []
    lazy: list[object] = []
    for name in module.INPUTS:
        dims = module.SHAPES[name]
        scalar_module = all(s == () for s in module.SHAPES.values())
        shape = (N,) if scalar_module else tuple(SIZES.get(d, d) for d in dims)
        if name in integers:
            value = rng.integers(0, SIZES[integers[name][0]], shape)
        else:
            value = rng.uniform(0.5, 1.5, shape)  # in every gallery domain (log, sqrt)
        plain.append(value)
        batched = scalar_module or dims[:1] == ("N",)
        lazy.append(
            da.from_array(value, chunks=(CHUNK, *shape[1:])) if batched else value
        )
    return plain, lazy


def _check_lazy_and_equal(client: object, fn, plain: list, lazy: list) -> None:
    want = _leaves(fn(*plain))
    got = _leaves(fn(*lazy))
    batch_results = 0
    for g, w in zip(got, want, strict=True):
        w = np.asarray(w)
        if w.ndim and w.shape[0] == N:  # batch-shaped: must stay a chunked dask array
            assert isinstance(g, da.Array), type(g)
            assert g.chunks[0] == (CHUNK,) * (N // CHUNK)
            batch_results += 1
    assert batch_results >= 1
    computed = client.gather(client.compute(got))  # on the cluster's workers
    for c, w in zip(computed, want, strict=True):
        np.testing.assert_allclose(
            np.asarray(c), np.asarray(w), rtol=1e-13, atol=1e-300
        )


SCALAR = [
    "add_gate",
    "add_mul",
    "add_mul_named",
    "copy_gate",
    "max_gate",
    "mul_gate",
    "sigmoid_chain",
]


@pytest.mark.parametrize("name", SCALAR)
def test_scalar_gallery_on_a_dask_batch(client: object, name: str) -> None:
    module = load_generated(name)
    assert "Backend: numpy" in module.__doc__
    plain, lazy = _arguments(module, np.random.default_rng(len(name)))
    _check_lazy_and_equal(client, module.forward_backward, plain, lazy)
    _check_lazy_and_equal(client, module.forward, plain, lazy)


def test_forward_mode_and_hvp_on_a_dask_batch(client: object) -> None:
    source = (REPO / "examples" / "sigmoid_chain.bp").read_text(encoding="utf-8")
    module = load(source, Options(mode=("grad", "jvp", "hvp")))
    plain, lazy = _arguments(module, np.random.default_rng(3))
    tangent = np.random.default_rng(4).normal(size=N)
    lazy_tangent = da.from_array(tangent, chunks=CHUNK)
    _check_lazy_and_equal(client, module.jvp, [*plain, tangent], [*lazy, lazy_tangent])
    _check_lazy_and_equal(client, module.hvp, [*plain, tangent], [*lazy, lazy_tangent])


def test_random_dag_of_a_thousand_ops_on_a_dask_batch(client: object) -> None:
    module = load(random_dag(1_000, seed=0))
    plain, lazy = _arguments(module, np.random.default_rng(7))
    _check_lazy_and_equal(client, module.forward_backward, plain, lazy)


def test_stable_primitives_on_a_dask_batch(client: object) -> None:
    module = load(
        "softplus(x) + log_sigmoid(y) + logaddexp(x, z) + log1p(z) * expm1(y)"
    )
    plain, lazy = _arguments(module, np.random.default_rng(8))
    _check_lazy_and_equal(client, module.forward_backward, plain, lazy)


ARRAYS = {  # module: the function evaluated on a batch of N rows
    "relu_vector": "forward_backward",
    "affine_relu": "forward_backward",
    "matmul": "forward_backward",
    "affine_relu_layer": "affine_relu_forward",
}


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_array_gallery_on_a_dask_batch(client: object, name: str) -> None:
    module = load_generated(name)
    plain, lazy = _arguments(module, np.random.default_rng(len(name)))
    fn = getattr(module, ARRAYS[name])
    if fn.__name__ == "forward_backward":  # an array output takes its upstream gradient
        dout = np.random.default_rng(9).normal(size=np.shape(module.forward(*plain)))
        plain.append(dout)
        lazy.append(da.from_array(dout, chunks=(CHUNK, *dout.shape[1:])))
    _check_lazy_and_equal(client, fn, plain, lazy)


NOT_LAZY = {  # module: the construct dask does not evaluate (see the README)
    "two_layer_net": "scores[arange(N), y] (integer-array indexing) and np.add.at",
    "svm_loss_batched": "scores[arange(N), y] (integer-array indexing) and np.add.at",
    "batchnorm": "np.full_like with an array fill value (mean's gradient)",
    "gradient_penalty": "np.hypot.reduce (norm)",
}


@pytest.mark.parametrize("name", sorted(NOT_LAZY))
def test_what_is_not_dask_lazy_is_as_documented(name: str) -> None:
    # if one of these starts to work, move it up and out of the README's list
    module = load_generated(name)
    plain, lazy = _arguments(module, np.random.default_rng(1))
    if name == "batchnorm":
        lazy.append(da.ones((N, SIZES["D"]), chunks=(CHUNK, SIZES["D"])))
    with pytest.raises((NotImplementedError, TypeError, ValueError)):
        module.forward_backward(*lazy)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"`{name}`" in readme.split("## Datasets beyond one machine")[1]
