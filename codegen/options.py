"""The options of one module."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    backend: str = "numpy"
    wrt: tuple[str, ...] | None = None
    inputs: tuple[str, ...] | None = None
    regenerate: str = "backpropgen --regen"
    format: str = "auto"
