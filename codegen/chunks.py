"""The ``in_chunks`` helper that ``--chunks`` adds to a NumPy module of a scalar
program: the text of its code, printed as it is (it uses only ``np``)."""

from __future__ import annotations

from .print_core import Helper

#: points per slice: 8,192 float64 (64 KB temporaries).  On this repository's 2-core
#: machine, for the 1,000-op DAG's forward_backward on 100,000 points
#: (``python benchmarks/bench_calls.py --section batch``, RESULTS-calls.txt): the first
#: call on fresh arrays about 1.7-1.9x faster than one call; warm, within about 5% of
#: one call (which varies 2x with the allocator's state, the slices do not); with
#: workers=2 the smallest size that kept both cores busy
CHUNK = 8192

#: the header's sentence about it
HEADER = (
    "in_chunks(function, *args) evaluates a large batch CHUNK points at a time "
    "(the same values as one call, with small temporaries: see its docstring)."
)

#: the constant, among the module's constants
CONSTANT = f"CHUNK = {CHUNK}  # points per slice in in_chunks"

HELPER = '''\
def in_chunks(function, *args, size=CHUNK, workers=1):
    """Return function(*args) for a batch, evaluated `size` points at a time so that
    each slice's temporaries stay small: the same values as one call, in far less
    memory, and faster where big temporaries cost most (a first call on fresh arrays).
    With workers > 1, that many threads evaluate slices at once (NumPy releases the
    GIL inside its loops, so the slices run on several cores).

    The array arguments are broadcast to one batch shape and sliced; numbers (an
    upstream gradient passed positionally) go to every slice as they are.  Each
    array of the result is joined along its last axis (a Hessian's (n, n, points)
    too; a number, or a matrix without that axis, is repeated for each point) and
    that axis is shaped like the batch: in_chunks(forward_backward, x, y) returns
    what forward_backward(x, y) returns.  A batch of at most `size` points is one
    call.
    """
    if not (isinstance(size, int) and size > 0 and isinstance(workers, int)):
        raise ValueError(
            "in_chunks: size must be a whole number above 0 and workers a whole "
            f"number (got size={size!r}, workers={workers!r})"
        )
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    points = int(np.prod(shape))
    if points <= size:
        return function(*args)
    flat = [np.broadcast_to(a, shape).reshape(-1) if np.ndim(a) else a for a in args]
    starts = range(0, points, size)
    lengths = [min(size, points - start) for start in starts]

    def call(start):
        return function(*(a[start : start + size] if np.ndim(a) else a for a in flat))

    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(call, starts))
    else:
        results = [call(start) for start in starts]

    def join(parts):
        first = parts[0]
        if isinstance(first, tuple):  # a tuple, Grads, or the rows of a matrix
            joined = [join(leaves) for leaves in zip(*parts, strict=True)]
            return first._make(joined) if hasattr(first, "_make") else tuple(joined)
        arrays = []
        for part, n in zip(parts, lengths, strict=True):
            if np.shape(part)[-1:] != (n,):  # no batch axis: the same for every point
                part = np.broadcast_to(np.expand_dims(part, -1), np.shape(part) + (n,))
            arrays.append(part)
        joined = np.concatenate(arrays, axis=-1)
        return joined.reshape(joined.shape[:-1] + shape)

    return join(results)'''


#: the helper as the printer's other helpers are recorded (its lines, its module)
IN_CHUNKS = Helper(tuple(HELPER.split("\n")), ("numpy",))

#: the import the helper needs besides NumPy
IMPORT = "from concurrent.futures import ThreadPoolExecutor"
