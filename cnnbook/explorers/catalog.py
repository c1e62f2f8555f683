"""What each explorer is made of: its controls, how its settings become a view, and its frame.

An :class:`ExplorerKind` is data: ``controls`` (:class:`ControlSpec`), ``view`` (settings ->
view at the first selectable cell, or :class:`ValueError`), ``shape`` (view -> the selectable
cells' ``(h, w)``) and ``frame`` (view -> JSON, :mod:`cnnbook.explorers.frames`).  Settings are a
dict of control values; the two position controls (``select="row"``/``"col"``) count from 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import frames
from . import views as V

__all__ = ["KINDS", "ControlSpec", "ExplorerKind"]


@dataclass(frozen=True)
class ControlSpec:
    """One control: ``name`` (the settings key, the package's argument name), ``label`` (starts with
    the parameter's words and the lectures' letter: the accessible name), range ``lo..hi`` (1 step)
    or ``options`` (``(text, value)`` pairs: a choice), ``value`` (default), ``select``: ``"row"`` /
    ``"col"`` when it picks a cell of the selectable panel (its maximum follows that panel)."""

    name: str
    label: str
    lo: int = 0
    hi: int = 0
    value: Any = 0
    options: tuple[tuple[str, str], ...] = ()
    select: str | None = None

    @property
    def choices(self) -> list:
        """Every value the control can take."""
        return [v for _, v in self.options] if self.options else list(range(self.lo, self.hi + 1))

    def json(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "lo": self.lo,
            "hi": self.hi,
            "options": [list(o) for o in self.options],
            "select": self.select,
        }


@dataclass(frozen=True)
class ExplorerKind:
    name: str
    controls: tuple[ControlSpec, ...]
    view: Callable[[dict], Any]
    shape: Callable[[Any], tuple[int, int]] | None
    frame: Callable[[Any], dict]

    def with_defaults(self, **values: Any) -> ExplorerKind:
        """The same kind with other default values (and ranges widened to include them)."""
        controls = []
        for c in self.controls:
            if c.name in values:
                v = values[c.name]
                if not c.options:
                    c = ControlSpec(c.name, c.label, min(c.lo, v), max(c.hi, v), v, (), c.select)
                else:
                    c = ControlSpec(c.name, c.label, c.lo, c.hi, v, c.options, c.select)
            controls.append(c)
        return ExplorerKind(self.name, tuple(controls), self.view, self.shape, self.frame)


def _slider(name: str, label: str, lo: int, hi: int, value: int, select: str | None = None) -> ControlSpec:
    return ControlSpec(name, label, lo, hi, value, (), select)


def _geometry(s: dict) -> tuple:
    return s["kernel_size"], s["stride"], s["padding"], s["dilation"]


def _conv_controls(max_size: int, H: int, W: int) -> tuple[ControlSpec, ...]:
    return (
        _slider("H", "input rows H", 3, max_size, H),
        _slider("W", "input columns W", 3, max_size, W),
        _slider("kernel_size", "filter size f", 1, 7, 3),
        _slider("stride", "stride s", 1, 4, 1),
        _slider("padding", "padding p", 0, 3, 0),
        _slider("dilation", "dilation d", 1, 3, 1),
        _slider("out_row", "output row i", 1, 20, 1, "row"),
        _slider("out_col", "output column j", 1, 20, 1, "col"),
    )


def _out_shape(view: Any) -> tuple[int, int]:
    return view.out_h, view.out_w


CONV = ExplorerKind(
    "ConvExplorer",
    _conv_controls(12, 7, 7),
    lambda s: V.conv_view(s["H"], s["W"], *_geometry(s)),
    _out_shape,
    frames.conv_frame,
)

MATRIX = ExplorerKind(
    "MatrixExplorer",
    (
        *_conv_controls(8, 4, 4),
        ControlSpec(
            "matrix",
            "matrix",
            value="M_F",
            options=(("M_F^filter (acts on vec X)", "M_F"), ("M_X (acts on vec F)", "M_X")),
        ),
    ),
    lambda s: V.matrix_view(V.conv_view(s["H"], s["W"], *_geometry(s)), s["matrix"]),
    lambda v: (v.conv.out_h, v.conv.out_w),
    frames.matrix_frame,
)


def _pool_input(s: dict) -> np.ndarray:
    """The map being pooled: a seeded permutation of 1..HW (no ties)."""
    H, W = s["H"], s["W"]
    return (np.random.default_rng(s["seed"]).permutation(H * W) + 1.0).reshape(H, W)


POOL = ExplorerKind(
    "PoolExplorer",
    (
        _slider("kernel_size", "window r", 1, 4, 2),
        _slider("stride", "stride s", 1, 4, 2),
        _slider("H", "input rows H", 2, 8, 4),
        _slider("W", "input columns W", 2, 8, 4),
        _slider("seed", "seed", 0, 20, 0),
    ),
    lambda s: V.pool_view(s["X"] if "X" in s else _pool_input(s), s["kernel_size"], s["stride"]),
    None,
    frames.pool_frame,
)

_STACK_DEFAULT = ((3, 1, 1, 1), (3, 2, 1, 1), (3, 1, 1, 2))

STACK = ExplorerKind(
    "StackExplorer",
    (
        _slider("n", "input size n", 4, 24, 12),
        *(
            spec
            for k, (f, s, p, d) in enumerate(_STACK_DEFAULT, start=1)
            for spec in (
                _slider(f"kernel_size{k}", f"filter size f{k}", 1, 5, f),
                _slider(f"stride{k}", f"stride s{k}", 1, 3, s),
                _slider(f"padding{k}", f"padding p{k}", 0, 2, p),
                _slider(f"dilation{k}", f"dilation d{k}", 1, 3, d),
            )
        ),
        _slider("out_row", "output row i", 1, 24, 1, "row"),
        _slider("out_col", "output column j", 1, 24, 1, "col"),
    ),
    lambda s: V.stack_view(
        s["n"],
        [
            tuple(s[f"{name}{k}"] for name in ("kernel_size", "stride", "padding", "dilation"))
            for k in (1, 2, 3)
        ],
    ),
    _out_shape,
    frames.stack_frame,
)

ROUTING = ExplorerKind(
    "RoutingExplorer",
    (
        _slider("H", "input rows H", 3, 7, 5),
        _slider("W", "input columns W", 3, 7, 5),
        _slider("kernel_size", "filter size f", 1, 4, 3),
        _slider("stride", "stride s", 1, 3, 1),
        _slider("padding", "padding p", 0, 2, 0),
        _slider("dilation", "dilation d", 1, 2, 1),
        _slider("out_row", "gradient row i", 1, 12, 1, "row"),
        _slider("out_col", "gradient column j", 1, 12, 1, "col"),
    ),
    lambda s: V.routing_view(s["H"], s["W"], *_geometry(s)),
    lambda v: (v.conv.out_h, v.conv.out_w),
    frames.routing_frame,
)

TRANSPOSE = ExplorerKind(
    "TransposeExplorer",
    (
        _slider("m", "input size m", 2, 5, 3),
        _slider("kernel_size", "filter size f", 1, 4, 3),
        _slider("stride", "stride s", 1, 3, 2),
        _slider("padding", "padding p", 0, 2, 0),
        _slider("output_padding", "output_padding op", 0, 2, 0),
        _slider("dilation", "dilation d", 1, 2, 1),
        _slider("in_row", "input row i", 1, 5, 1, "row"),
        _slider("in_col", "input column j", 1, 5, 1, "col"),
    ),
    lambda s: V.transpose_view(
        s["m"], s["kernel_size"], s["stride"], s["padding"], s["output_padding"], s["dilation"]
    ),
    lambda v: v.Y.shape,
    frames.transpose_frame,
)

KINDS = {k.name: k for k in (CONV, MATRIX, POOL, STACK, ROUTING, TRANSPOSE)}
