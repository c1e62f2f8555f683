"""The lessons' explorers under their first home's name: ``from cnnbook.widgets import conv_explorer``.

Everything lives in :mod:`cnnbook.explorers` (views, frames, the browser drawing, the widget); this
module re-exports the names lessons import.  New code may import from either.
"""

from __future__ import annotations

from .explorers import (
    Explorer,
    conv_explorer,
    conv_view,
    matrix_explorer,
    matrix_view,
    pool_explorer,
    pool_view,
    routing_explorer,
    size_formula,
    stack_explorer,
    transpose_explorer,
)

__all__ = [
    "Explorer",
    "conv_explorer",
    "conv_view",
    "matrix_explorer",
    "matrix_view",
    "pool_explorer",
    "pool_view",
    "routing_explorer",
    "size_formula",
    "stack_explorer",
    "transpose_explorer",
]
