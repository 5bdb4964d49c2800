"""Render a module view with jinja2: the template holds layout only."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2


@dataclass(frozen=True)
class FunctionView:
    """One function of a module, printed: ``def <signature>:``, its docstring, its
    body lines ("" for a blank line) and what it returns."""

    signature: str
    doc: str
    lines: tuple[str, ...]
    returns: str


@dataclass(frozen=True)
class ModuleView:
    """Everything the module template shows, already printed."""

    docstring: str
    imports: tuple[str, ...]
    constants: tuple[str, ...]  # INPUTS = ..., OUTPUT = ..., WRT = ..., SHAPES = ...
    functions: tuple[FunctionView, ...]
    template: str = "module.py.jinja"  # function.py.jinja: a torch.autograd.Function
    class_doc: str = ""
    helper: tuple[str, ...] = ()  # module-level code after the functions (in_chunks)
    #: functions the printed code calls by name (the numpy backend's sigmoid), before
    #: the functions that call them
    definitions: tuple[str, ...] = ()
    #: module-level functions after the class of a ``torch.autograd.Function``
    #: module (jvp, hvp)
    beside: tuple[FunctionView, ...] = ()


def _template_dirs() -> list[str]:
    here = Path(__file__).resolve().parent
    # installed: codegen/templates; source tree: templates/ beside codegen/
    return [
        str(p) for p in (here / "templates", here.parent / "templates") if p.is_dir()
    ]


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_template_dirs()),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(view: ModuleView) -> str:
    return environment().get_template(view.template).render(m=view)
