"""Trained weights shipped with the book: lesson 09's network after lesson 09's recipe.

``tools/train_small_convnet.py`` trains :func:`cnnbook.models.small_convnet` (``seed=0``) with
:data:`cnnbook.models.SMALL_CONVNET_RECIPE` on the 4,000 shipped training digits and saves
``model.parameters()`` with :func:`numpy.savez` to ``cnnbook/data/small_convnet_digits.npz``
(float32, 9,098 numbers, about 37 kB).  :func:`load_trained_small_convnet` checks the file's SHA-256
before it reads it, so a changed or truncated file is refused instead of silently giving another
network.  Nothing is downloaded: the file is part of the package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._checks import as_flag
from .data import DATA_DIR, sha256
from .models import Sequential, small_convnet

__all__ = ["TRAINED_SMALL_CONVNET", "TRAINED_SMALL_CONVNET_SHA256", "load_trained_small_convnet"]

TRAINED_SMALL_CONVNET: Path = DATA_DIR / "small_convnet_digits.npz"
"""Where the trained parameters live (written by ``tools/train_small_convnet.py``)."""

TRAINED_SMALL_CONVNET_SHA256 = "8b5dfa90e27b0426a064086b64cf30565facb3643adad0c9f8daa70b7c317933"
"""SHA-256 of :data:`TRAINED_SMALL_CONVNET`, printed by the tool that wrote it."""


def load_trained_small_convnet(*, verify: bool = True) -> Sequential:
    """Lesson 09's ``small_convnet()`` (float32) with the shipped trained parameters loaded.

    ``verify`` (default True) compares the file's SHA-256 with :data:`TRAINED_SMALL_CONVNET_SHA256`
    first: :class:`ValueError` naming the file when they differ.
    """
    verify = as_flag(verify, "verify")
    path = TRAINED_SMALL_CONVNET
    if verify and sha256(path) != TRAINED_SMALL_CONVNET_SHA256:
        raise ValueError(
            f"{path.name}: SHA-256 does not match the one recorded in cnnbook.trained "
            "(re-create the file with tools/train_small_convnet.py)"
        )
    model = small_convnet(seed=0)
    with np.load(path) as stored:
        model.load_parameters({name: stored[name] for name in stored.files})
    return model
