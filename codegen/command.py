"""backpropgen's command line: parse arguments, call codegen, report errors in one line."""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from . import __version__
from .errors import BackpropgenError, OptionError
from .options import OPTIONS, Option, command_line

if TYPE_CHECKING:  # imported lazily at run time: --help and --version stay fast
    from .generate import Compiled
    from .options import Options
    from .trace import Trace

EXAMPLES = """\
examples:
  backpropgen "x + y*z"                          print the module to stdout
  backpropgen "q = y*z; f = x + q" -o grad.py     a flat program, written atomically
  backpropgen -f chain.bp --backend math          a program file; plain floats
  backpropgen -f net.bp -o net_grad.py            arrays: declare 'X: array[N, D]'
                                                  (numpy backend)
  backpropgen "x + y*z" --at x=-2 y=5 z=-4        value and gradients as a table
  backpropgen -f net.bp --at N=4 D=3 H=5 C=3 --random 0 --trace
                                                  arrays: random values of these sizes
  backpropgen "x*y + sin(x)" --wrt x              only df/dx
  backpropgen --regen                             rewrite generated/ from pyproject.toml
  backpropgen --check                             exit 1 if generated/ is stale (for CI)
  backpropgen --verify generated/matmul.py        check a module's gradients (exit 1: wrong)
"""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line like every other error (no usage block)."""

    def error(self, message: str) -> NoReturn:
        raise OptionError(f"{message} (see backpropgen --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="backpropgen",
        description="Generate flat, readable backprop code (forward statements, then "
        "the backward statements in reverse order) from an expression or program.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "source",
        nargs="?",
        help="an expression or a program ('q = y*z; f = x + q')",
    )
    parser.add_argument("-f", "--file", help="read the program from FILE ('-': stdin)")
    parser.add_argument("-o", "--output", help="write the module to FILE (atomically)")
    for option in OPTIONS:
        _add_option(parser, option)
    parser.add_argument(
        "--regen", action="store_true", help="regenerate the modules in pyproject.toml"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 with a diff if a generated module is stale, missing or orphaned",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    return parser


def _add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    """One option of the table; not given, its value is None (the one-module check)."""
    if option.kind == "flag":
        parser.add_argument(
            option.flag,
            dest=option.name,
            action="store_const",
            const=True,
            help=option.help,
        )
        return
    parser.add_argument(
        option.flag,
        dest=option.name,
        action="extend" if option.many else "store",
        nargs="+" if option.many else None,
        choices=option.choices,
        metavar=option.metavar,
        help=option.help,
    )


def _plain(source: str) -> bool:
    """Short, one line, printable, no backslash or quote run: fit to quote in a header."""
    return (
        len(source) <= 60
        and source.isprintable()
        and "\\" not in source
        and '"""' not in source
    )


def _relative(path: str) -> str:
    """A path as the regenerate command names it: relative to the folder the command
    ran in (an absolute path made relative to it), so the header has no absolute
    path and the command runs from there."""
    if not os.path.isabs(path):
        return path
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows): no relative path exists
        return Path(path).name


def _regenerate_command(args: argparse.Namespace) -> str:
    parts = ["backpropgen"]
    placeholder = False
    if args.file is not None and args.file != "-":
        parts += ["-f", shlex.quote(_relative(args.file))]
    elif args.file is None and _plain(args.source):
        parts.append(shlex.quote(args.source))
    else:  # stdin, or too long for one line: the header shows the source anyway
        parts.append("SOURCE")
        placeholder = True
    parts += command_line(vars(args))
    if args.output:
        parts += ["-o", shlex.quote(_relative(args.output))]
    if placeholder:
        parts.append("(SOURCE: the source above)")
    return " ".join(parts)


def _read_source(args: argparse.Namespace) -> tuple[str, str]:
    if args.file is not None and args.source is not None:
        raise OptionError("give an expression or -f FILE, not both")
    if args.file is not None:
        from .sources import decode_source, read_source

        if args.file != "-":
            return read_source(Path(args.file), args.file), args.file
        if not hasattr(sys.stdin, "buffer"):
            return sys.stdin.read(), "<stdin>"  # already text (an embedding caller)
        return decode_source(sys.stdin.buffer.read(), "<stdin>"), "<stdin>"
    if args.source is None:
        raise OptionError(
            "nothing to do: give an expression, -f FILE, --regen or --check"
        )
    return args.source, "<expr>"


def at_point(items: list[str]) -> dict[str, float]:
    """The point ``--at NAME=VALUE ...`` gives."""
    point: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = unicodedata.normalize("NFKC", name.strip())  # as Python reads names
        if not sep or not name.isidentifier():
            raise OptionError(f"'{item}' is not NAME=VALUE", "--at")
        if name in point:
            raise OptionError(f"'{name}' is given twice", "--at")
        try:
            point[name] = float(value)
        except ValueError:
            raise OptionError(f"'{value}' is not a number", f"--at {name}") from None
    return point


def _at(args: argparse.Namespace, source: str, where: str) -> int:
    from .evaluate import evaluate_at, table

    point = at_point(args.at or [])
    seed = None
    if args.random is not None:
        seed = _seed(args.random)
    options = _options(args)
    trace = None
    if args.trace or args.graph is not None:
        from .trace import trace_at, trace_table

        trace = trace_at(source, options, point, where, seed)
    if args.trace:
        assert trace is not None
        text = trace_table(trace)
    else:
        text = table(evaluate_at(source, options, point, where, seed))
    if args.graph is not None:
        assert trace is not None
        _write_graph(args.graph, trace.compiled, trace, source)
    _write_stdout(text + "\n")
    return 0


def _seed(text: str) -> int:
    """``--random SEED``: a whole number from 0."""
    if not text.strip().isdecimal():
        raise OptionError(f"'{text}' is not a seed (a whole number from 0)", "--random")
    return int(text)


def _write_graph(
    path: str, compiled: Compiled, trace: Trace | None = None, source: str | None = None
) -> None:
    """``--graph``: drawn in memory first (its errors come before anything is
    written), then written atomically."""
    from .graph import graph_file, write_graph

    write_graph(path, graph_file(path, compiled, trace, source))


def _write_stdout(text: str) -> None:
    """Write to standard output; a closed or full one is a one-line error."""
    if sys.stdout is None:
        raise OptionError("standard output is closed", "stdout")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # the reader left: no second error at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        reason = exc.strerror or str(exc)
        raise OptionError(f"cannot write: {reason}", "stdout") from None


def _options(args: argparse.Namespace) -> Options:
    from .options import options_from_cli

    options = options_from_cli(vars(args))  # its errors come before the command's
    return dataclasses.replace(options, regenerate=_regenerate_command(args))


def _regen(check: bool) -> int:
    from .regen import FIX, find_pyproject, load_manifest, regen

    manifest = load_manifest(find_pyproject(Path.cwd()))
    problems = regen(manifest, check=check)
    for problem in problems:
        rel = manifest.rel(problem.path)
        if check:
            _write_stdout(problem.diff)
            print(f"backpropgen: {rel} is {problem.kind}", file=sys.stderr)
        else:
            action = "removed" if problem.kind == "orphan" else "wrote"
            print(f"{action} {rel} ({problem.kind})", file=sys.stderr)
    if check and problems:
        print(
            f"backpropgen: {len(problems)} generated file(s) out of date; fix with: {FIX}",
            file=sys.stderr,
        )
        return 1
    total = len(manifest.entries)
    written = sum(problem.kind != "orphan" for problem in problems)
    removed = len(problems) - written
    summary = f"{total} module(s) up to date"
    if written:
        summary += f" ({written} written)"
    if removed:
        summary += f"; {removed} orphan(s) removed"
    print(f"backpropgen: {summary}", file=sys.stderr)
    return 0


def _one_module_options(args: argparse.Namespace) -> list[str]:
    """The options given that make sense for one module only."""
    given = [
        ("an expression", args.source),
        ("-f", args.file),
        ("-o", args.output),
        *((option.flag, getattr(args, option.name)) for option in OPTIONS),
    ]
    return [what for what, value in given if value is not None]


#: characters that make "-f*x" an expression rather than -f with the value "*x"
_OPERATOR_CHARS = frozenset("*+()@ ")
_SHORT_OPTIONS = ("-f", "-o", "-h")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """argparse, except that an expression starting with '-' ("-x*y") is the source.

    argparse would read "-f*x" as -f with the value "*x" (and "-omega*t" as -o), so an
    argument that starts with a short option but holds an operator is taken out first;
    any other single unknown argument starting with '-' ("-x") is the source too."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    expression = None
    for index, item in enumerate(argv):
        if item == "--":
            break
        if item[:2] in _SHORT_OPTIONS and len(item) > 2 and _OPERATOR_CHARS & set(item):
            expression = argv.pop(index)
            break
    args, unknown = parser.parse_known_args(argv)
    if expression is None and len(unknown) == 1 and not unknown[0].startswith("--"):
        expression = unknown.pop()
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.at and args.source is None and args.file is None and "=" not in args.at[-1]:
        expression = args.at.pop()  # --at x=1 y=2 "x*y": the last one is the source
    if expression is not None:
        if args.source is not None:
            parser.error(f"two expressions: {args.source!r} and {expression!r}")
        args.source = expression
    return args


def run(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.regen or args.check:
        mode = "--regen" if args.regen else "--check"
        if args.regen and args.check:
            raise OptionError("give --regen or --check, not both")
        extra = _one_module_options(args)
        if extra:
            raise OptionError(
                f"takes its modules and options from pyproject.toml; drop {extra[0]}",
                mode,
            )
        return _regen(check=args.check)
    if args.output == "":
        raise OptionError("an empty file name", "-o")
    if args.output == "-":  # like -f -: the standard stream
        args.output = None
    if args.output and args.output.endswith(("/", os.sep)):
        raise OptionError("a folder name, not a file", f"-o {args.output}")
    if args.graph is not None:
        from .graph import graph_format

        graph_format(args.graph)  # a bad path is refused before any work
    evaluates = bool(args.at) or args.random is not None
    if args.trace and not evaluates:
        raise OptionError("needs --at: the point to trace the program at", "--trace")
    if args.verify and args.file is None and _module_path(args.source):
        if args.output or args.at or args.graph is not None:
            raise OptionError(
                "--verify MODULE.py checks a module: drop -o, --at and --graph"
            )
        return _verify_file(args.source)
    source, where = _read_source(args)
    if args.verify and evaluates:
        raise OptionError("give --at or --verify, not both")
    if evaluates:
        if args.output:
            raise OptionError("--at prints values and writes no file: drop -o")
        return _at(args, source, where)
    from .generate import generate_with_warnings

    if args.output and not Path(args.output).parent.is_dir():
        raise OptionError("no such directory", f"-o {args.output}")
    options = _options(args)
    text, warnings = generate_with_warnings(source, options, where)
    for warning in warnings:
        print(f"backpropgen: warning: {warning}", file=sys.stderr)
    if args.graph is not None:
        from .generate import compile_source

        _write_graph(args.graph, compile_source(source, options, where), None, source)
    if args.output:
        from .sources import write_atomic

        target = Path(args.output)
        try:
            write_atomic(target, text)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise OptionError(f"cannot write: {reason}", f"-o {args.output}") from None
    elif not args.verify:
        _write_stdout(text)
    if args.verify:  # our own output, imported from its text
        from .evaluate import load_module
        from .verify import verify_module

        report = verify_module(load_module(text), args.output or where)
        _write_stdout(report.text())
        return 0 if report.passed else 1
    return 0


def _module_path(source: str | None) -> bool:
    """``--verify MODULE.py``: the argument names a Python file, not an expression."""
    return source is not None and source.strip().endswith(".py")


def _verify_file(path: str) -> int:
    from .verify import verify_file

    report = verify_file(path)
    _write_stdout(report.text())
    return 0 if report.passed else 1


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except BackpropgenError as exc:
        print(f"backpropgen: error: {exc.render()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
