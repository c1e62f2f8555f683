"""The one widget: :class:`Explorer`, an ``anywidget`` composed of an :class:`ExplorerKind`'s
controls, its compute (settings -> view) and its frame (view -> what the browser draws).

The browser draws frames as SVG (``explorer.js``); Python computes them.  After each change Python
sends the frames of every value of every control (one control moved at a time from the current
settings), so a slider moved or dragged in the browser redraws from frames it already holds.
Python stays in step: ``explorer.state`` is the view of the current settings, and setting
``explorer.controls[name].value`` from code recomputes it synchronously (no browser needed).
Displaying an explorer shows a PNG of its current state first (what GitHub, nbviewer, a static site
or a notebook reopened without a kernel show); the live widget hides it when it renders.
"""

from __future__ import annotations

import base64
import html
from collections import OrderedDict
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .catalog import ControlSpec, ExplorerKind
from .frames import error_frame

__all__ = ["Control", "Explorer"]

_HERE = Path(__file__).parent
_CACHE_SIZE = 4000


class Control:
    """A control of an :class:`Explorer`, settable from Python like an ipywidgets slider.

    ``value`` (setting it recomputes the explorer; out-of-range values are clamped), ``min``,
    ``max`` (for a position control: the current output's size), ``description`` (the label),
    ``options`` (for a choice).
    """

    def __init__(self, explorer: Explorer, spec: ControlSpec):
        self._explorer = explorer
        self.spec = spec

    @property
    def description(self) -> str:
        return self.spec.label

    @property
    def options(self) -> list:
        return [v for _, v in self.spec.options]

    @property
    def min(self) -> int:
        return self.spec.lo

    @property
    def max(self) -> int:
        shape = self._explorer.selectable_shape
        if self.spec.select and shape is not None:
            return shape[0] if self.spec.select == "row" else shape[1]
        return self.spec.hi

    @property
    def value(self) -> Any:
        return self._explorer.values[self.spec.name]

    @value.setter
    def value(self, v: Any) -> None:
        self._explorer.values = {**self._explorer.values, self.spec.name: self._clamp(v)}

    def _clamp(self, v: Any) -> Any:
        if self.spec.options:
            if v not in self.options:
                raise ValueError(f"{self.spec.name} must be one of {self.options}, got {v!r}")
            return v
        return int(min(max(int(v), self.spec.lo), self.spec.hi))

    def __repr__(self) -> str:
        return f"Control({self.spec.label!r}, value={self.value!r})"


class Explorer(anywidget.AnyWidget):
    """Controls + readout + picture for one :class:`ExplorerKind`.

    ``controls``: dict of :class:`Control` by name; ``values``: the settings (synced with the
    browser); ``state``: the current view (``None`` while the settings are invalid, with the
    :class:`ValueError` message in ``error``); ``frame``: what the browser draws for the current
    settings; ``readout``: the readout as text (first line ``output: H' x W' = a x b``).
    """

    _esm = _HERE / "explorer.js"
    _css = _HERE / "explorer.css"
    spec: traitlets.List = traitlets.List().tag(sync=True)
    values: traitlets.Dict = traitlets.Dict().tag(sync=True)
    frame: traitlets.Dict = traitlets.Dict()  # not synced: the browser gets frames in batches

    def __init__(self, kind: ExplorerKind, **values: Any):
        self.kind = kind
        self.controls = {c.name: Control(self, c) for c in kind.controls}
        self.state: Any = None
        self.error: str | None = None
        self.selectable_shape: tuple[int, int] | None = None
        self._frames: OrderedDict[str, dict] = OrderedDict()
        self._sent: set[str] = set()
        self._live = False
        start = {c.name: c.value for c in kind.controls}
        for name, v in values.items():
            if name not in start:
                raise TypeError(f"{kind.name} has no control {name!r}")
            start[name] = self.controls[name]._clamp(v)
        super().__init__(spec=[c.json() for c in kind.controls], values=start)
        self.observe(self._on_values, names="values")
        self.on_msg(self._on_message)
        self._update(start)

    # -- computing ---------------------------------------------------------------------------

    def key(self, values: dict) -> str:
        """The frame key: the values of every control except the position ones."""
        return "|".join(str(values[c.name]) for c in self.kind.controls if not c.select)

    def _view(self, values: dict) -> Any:
        return self.kind.view(values)

    def frame_for(self, values: dict) -> dict:
        """The frame for ``values`` (cached by key; an error frame for impossible settings)."""
        key = self.key(values)
        if key in self._frames:
            self._frames.move_to_end(key)
            return self._frames[key]
        try:
            frame = self.kind.frame(self._view(values))
        except ValueError as exc:
            frame = error_frame(str(exc))
        frame["key"] = key
        self._frames[key] = frame
        if len(self._frames) > _CACHE_SIZE:
            self._frames.popitem(last=False)
        return frame

    def _update(self, values: dict) -> None:
        try:
            view = self._view(values)
        except ValueError as exc:
            self.state, self.error, self.selectable_shape = None, str(exc), None
        else:
            if self.kind.shape is not None:
                h, w = self.kind.shape(view)
                self.selectable_shape = (h, w)
                row, col = (c.name for c in self.kind.controls if c.select)
                i, j = min(max(values[row], 1), h), min(max(values[col], 1), w)
                if (i, j) != (values[row], values[col]):
                    self.values = {**values, row: i, col: j}  # clamped: _on_values runs again
                    return
                view = view.at(i - 1, j - 1)
            self.state, self.error = view, None
        self.frame = self.frame_for(values)
        if self._live:
            self._send_neighbours(values)

    def _on_values(self, change: dict) -> None:
        self._update(change["new"])

    def neighbours(self, values: dict) -> list[dict]:
        """Every setting that differs from ``values`` in one control (positions excluded)."""
        out = []
        for c in self.kind.controls:
            if c.select:
                continue
            out += [{**values, c.name: v} for v in c.choices if v != values[c.name]]
        return out

    def _send_neighbours(self, values: dict) -> None:
        batch = {}
        for v in [values, *self.neighbours(values)]:
            key = self.key(v)
            if key not in self._sent:
                batch[key] = self.frame_for(v)
                self._sent.add(key)
        if batch:
            self.send({"frames": batch})

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ready":
            self._live, self._sent = True, set()
            self.frame = self.frame_for(self.values)
            self._send_neighbours(self.values)

    # -- text and pictures -------------------------------------------------------------------

    @property
    def readout(self) -> str:
        """The readout as text, as the browser shows it (or the error)."""
        if self.state is None:
            return f"not a valid setting: {self.error}"
        return self.state.text

    def png(self) -> bytes:
        """A PNG of the current state (matplotlib, :func:`cnnbook.explorers.static.draw_frame`)."""
        from .static import draw_frame, figure_png

        return figure_png(draw_frame(self.frame_for(self.values), self._selected()))

    def _selected(self) -> int | None:
        if self.selectable_shape is None:
            return None
        row, col = (self.values[c.name] for c in self.kind.controls if c.select)
        return (row - 1) * self.selectable_shape[1] + col - 1

    def __repr__(self) -> str:
        return f"{self.kind.name}({self.error or (self.state.output_size if self.state else '')})"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        alt = f"cnnbook explorer: {self!r}"
        png = base64.b64encode(self.png()).decode("ascii")
        tag = f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'
        display({"text/html": tag, "image/png": png, "text/plain": alt}, raw=True)
        bundle = self._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        display(data, metadata=metadata, raw=True)
