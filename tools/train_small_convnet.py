"""Train lesson 09's network once and ship its parameters: cnnbook/data/small_convnet_digits.npz.

    PYTHONPATH=. python tools/train_small_convnet.py

Trains ``small_convnet(seed=0)`` with ``SMALL_CONVNET_RECIPE`` (lesson 09's recipe, ``fit(...,
seed=0)``) on the 4,000 shipped training digits, reports the test accuracy, writes the parameters
with ``np.savez`` and prints the file's SHA-256, which goes into ``cnnbook/trained.py``
(``TRAINED_SMALL_CONVNET_SHA256``).  Lesson 12 loads the result with
``cnnbook.trained.load_trained_small_convnet()``.  Takes about 20 s of CPU time.
"""

from __future__ import annotations

import numpy as np

from cnnbook.data import load_mnist_subset, sha256
from cnnbook.models import SMALL_CONVNET_RECIPE, small_convnet
from cnnbook.train import accuracy, fit
from cnnbook.trained import TRAINED_SMALL_CONVNET


def main() -> None:
    (X_train, y_train), (X_test, y_test) = load_mnist_subset()
    model = small_convnet(seed=0)
    fit(model, X_train, y_train, seed=0, progress=False, **SMALL_CONVNET_RECIPE)
    print(f"test accuracy: {100 * accuracy(model, X_test, y_test):.1f}%")
    np.savez(TRAINED_SMALL_CONVNET, **model.parameters())  # type: ignore[arg-type]
    print(f"wrote {TRAINED_SMALL_CONVNET} ({TRAINED_SMALL_CONVNET.stat().st_size:,} bytes)")
    print(f'TRAINED_SMALL_CONVNET_SHA256 = "{sha256(TRAINED_SMALL_CONVNET)}"')


if __name__ == "__main__":
    main()
