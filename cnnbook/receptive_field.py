"""Receptive fields: which input pixels one unit of a layer can see.

Along one axis, a unit of layer ``l`` sees a window of ``r_l`` consecutive input positions; the
windows of neighbouring units are ``j_l`` positions apart (the *jump*: the product of the strides
so far), and unit ``0``'s window starts at input position ``a_l`` (negative when padding puts it
partly outside the image).  A layer with filter (or pooling window) ``f_l``, stride ``s_l``,
padding ``p_l`` and dilation ``d_l`` maps them to::

    r_l = r_{l-1} + d_l (f_l - 1) j_{l-1}      j_l = j_{l-1} s_l      a_l = a_{l-1} - p_l j_{l-1}

starting from the input itself, ``r_0 = 1, j_0 = 1, a_0 = 0``.  (``d(f - 1) + 1`` is the filter's
span, :func:`cnnbook.shapes.effective_size`: a layer widens the window by its span minus one, in
units of the jump of the layer below.)  Unit ``i`` of layer ``l`` therefore sees the input positions
``a_l + i j_l, ..., a_l + i j_l + r_l - 1`` -- :meth:`RFRow.window`, clipped to the image.

Elementwise layers (ReLU, ...) and maxout leave the window as it is; after a flatten or a fully
connected layer every unit sees the whole input (``size`` is ``None``).  A residual block sees the
union of its branch's and its shortcut's windows; so does a concatenation of branches.

:func:`receptive_field` takes what :func:`cnnbook.specs.summary` takes (a list of specs, a built-in
name such as ``"vgg16"``, or a :class:`cnnbook.models.Sequential`) and returns one row per layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .shapes import effective_size
from .specs import (
    ConcatSpec,
    ConvSpec,
    ElementwiseSpec,
    FCSpec,
    FlattenSpec,
    LayerSpec,
    MaxoutSpec,
    PoolSpec,
    ResidualSpec,
    Shape,
    summary,
)

__all__ = ["RFRow", "ReceptiveField", "receptive_field"]

_Axis = tuple[int, int, int]  # (r, j, a) along one axis


@dataclass(frozen=True)
class RFRow:
    """One layer's receptive field (row 0 is the input): ``(h, w)`` pairs for both axes.

    ``size`` ``(r_h, r_w)`` (``None``: every unit sees the whole input), ``jump`` ``(j_h, j_w)``,
    ``start`` ``(a_h, a_w)``; ``output_shape`` is the layer's output shape when the input shape is
    known (else ``None``).
    """

    index: int
    layer: str
    size: tuple[int, int] | None
    jump: tuple[int, int]
    start: tuple[int, int]
    output_shape: Shape | None = None

    def window(self, i: int, j: int, input_hw: tuple[int, int] | None = None) -> tuple[slice, slice]:
        """Rows and columns of the input that unit ``(i, j)`` (0-based) of this layer sees.

        ``(slice(a_h + i j_h, a_h + i j_h + r_h), slice(...))``, clipped to ``input_hw`` (the image
        size, ``(H, W)``) when it is given -- the part of the window that is not zero padding.
        """
        if self.size is None:
            raise ValueError(f"{self.layer}: every unit sees the whole input (after a flatten / fc layer)")
        bounds = []
        for axis, pos in enumerate((i, j)):
            lo = self.start[axis] + pos * self.jump[axis]
            hi = lo + self.size[axis]
            if input_hw is not None:
                lo, hi = max(lo, 0), min(hi, input_hw[axis])
            bounds.append(slice(lo, hi))
        return bounds[0], bounds[1]


@dataclass(frozen=True)
class ReceptiveField:
    """The rows of :func:`receptive_field`; ``print(rf)`` shows them as a table."""

    rows: tuple[RFRow, ...]

    def row(self, label: str) -> RFRow:
        """The first row whose layer label is ``label`` or starts with ``label + ":"`` (``"conv2"``)."""
        for r in self.rows:
            if r.layer == label or r.layer.startswith(label + ":"):
                return r
        raise KeyError(f"no layer labelled {label!r}; labels are {[r.layer for r in self.rows]}")

    @property
    def sizes(self) -> list[tuple[int, int] | None]:
        """``size`` of every row, input first."""
        return [r.size for r in self.rows]

    def table(self) -> str:
        head = ("#", "layer", "output", "receptive field", "jump", "start")
        body = [
            (
                str(r.index),
                r.layer,
                "" if r.output_shape is None else "x".join(map(str, r.output_shape)),
                "whole input" if r.size is None else f"{r.size[0]}x{r.size[1]}",
                ""
                if r.size is None
                else f"{r.jump[0]}"
                if r.jump[0] == r.jump[1]
                else f"{r.jump[0]},{r.jump[1]}",
                "" if r.size is None else f"{r.start[0]}" if r.start[0] == r.start[1] else f"{r.start}",
            )
            for r in self.rows
        ]
        widths = [max(len(line[k]) for line in [head, *body]) for k in range(len(head))]

        def line(cells: tuple[str, ...]) -> str:
            return "  ".join(
                c.ljust(w) if k in (1, 2) else c.rjust(w) for k, (c, w) in enumerate(zip(cells, widths))
            )

        rule = "-" * len(line(head))
        return "\n".join([line(head), rule, *(line(b).rstrip() for b in body)])

    def __str__(self) -> str:
        return self.table()

    __repr__ = __str__


def _step(axis: _Axis, f: int, s: int, p: int, d: int) -> _Axis:
    r, j, a = axis
    return r + (effective_size(f, d) - 1) * j, j * s, a - p * j


def _union(states: Sequence[tuple[_Axis, _Axis] | None], what: str) -> tuple[_Axis, _Axis] | None:
    """The union of the branches' windows (they must move with the same jump)."""
    if any(state is None for state in states):
        return None
    out = []
    for k in range(2):
        axes = [state[k] for state in states if state is not None]
        jumps = {ax[1] for ax in axes}
        if len(jumps) != 1:
            raise ValueError(f"{what}: the branches move with different jumps {sorted(jumps)}")
        a = min(ax[2] for ax in axes)
        end = max(ax[2] + ax[0] for ax in axes)
        out.append((end - a, jumps.pop(), a))
    return out[0], out[1]


def _apply(spec: LayerSpec, state: tuple[_Axis, _Axis] | None) -> tuple[_Axis, _Axis] | None:
    """The receptive field after ``spec``; ``None`` once units see the whole input."""
    if state is None or isinstance(spec, FlattenSpec | FCSpec):
        return None
    if isinstance(spec, ConvSpec):  # LocallyConnectedSpec too: the same windows
        return (
            _step(state[0], spec.kernel_size[0], spec.stride[0], spec.padding[0], spec.dilation[0]),
            _step(state[1], spec.kernel_size[1], spec.stride[1], spec.padding[1], spec.dilation[1]),
        )
    if isinstance(spec, PoolSpec):
        return (
            _step(state[0], spec.kernel_size[0], spec.stride[0], spec.padding[0], 1),
            _step(state[1], spec.kernel_size[1], spec.stride[1], spec.padding[1], 1),
        )
    if isinstance(spec, ElementwiseSpec | MaxoutSpec):
        return state
    if isinstance(spec, ResidualSpec):
        return _union([_chain(spec.branch, state), _chain(spec.shortcut, state)], spec.label)
    if isinstance(spec, ConcatSpec):
        return _union([_chain(branch, state) for branch in spec.branches], spec.label)
    raise TypeError(f"no receptive-field rule for {type(spec).__name__} ({spec.label})")


def _chain(specs: Sequence[LayerSpec], state: tuple[_Axis, _Axis] | None) -> tuple[_Axis, _Axis] | None:
    for spec in specs:
        state = _apply(spec, state)
    return state


def receptive_field(net: object, input_shape: Sequence[int] | None = None) -> ReceptiveField:
    """Receptive field, jump and start of every layer of ``net`` (row 0 is the input).

    ``net``: a list of specs, a built-in architecture name (``"vgg16"``) or a model whose layers
    carry specs (:class:`cnnbook.models.Sequential`; rows are labelled ``"conv1: conv 8 3x3 s1 p1"``).
    ``input_shape`` ``(C, H, W)`` is optional (the formula does not depend on it); when it is given,
    or the built-in / model has one, the network is first walked by :func:`cnnbook.specs.summary`
    -- which refuses impossible layers -- and each row carries its ``output_shape``.
    :class:`TypeError` for a spec without a receptive-field rule.
    """
    if isinstance(net, str):
        from .architectures import get_spec  # the built-ins are specs: import on use, as summary does

        specs, builtin_shape = get_spec(net)
        default: Sequence[int] | None = builtin_shape
        labels = [s.label for s in specs]
    elif hasattr(net, "layers"):
        specs = [layer.spec for layer in net.layers]
        labels = [
            f"{layer.name}: {spec.label}" if layer.name else spec.label
            for layer, spec in zip(net.layers, specs)
        ]
        default = getattr(net, "input_shape", None)
    elif isinstance(net, Sequence):
        specs, default = list(net), None
        for k, spec in enumerate(specs, start=1):
            if not isinstance(spec, LayerSpec):
                raise TypeError(f"spec entry {k} must be a LayerSpec (ConvSpec, PoolSpec, ...); got {spec!r}")
        labels = [s.label for s in specs]
    else:
        raise TypeError(f"net must be a list of specs, a built-in name or a model with .layers, got {net!r}")
    shape = default if input_shape is None else input_shape
    shapes: list[Shape | None] = [None] * (len(specs) + 1)
    if shape is not None:
        shapes = [r.output_shape for r in summary(specs, shape).rows]
    state: tuple[_Axis, _Axis] | None = ((1, 1, 0), (1, 1, 0))
    rows = [RFRow(0, "input", (1, 1), (1, 1), (0, 0), shapes[0])]
    for k, (spec, label) in enumerate(zip(specs, labels), start=1):
        state = _apply(spec, state)
        if state is None:
            rows.append(RFRow(k, label, None, rows[-1].jump, rows[-1].start, shapes[k]))
        else:
            (rh, jh, ah), (rw, jw, aw) = state
            rows.append(RFRow(k, label, (rh, rw), (jh, jw), (ah, aw), shapes[k]))
    return ReceptiveField(tuple(rows))
