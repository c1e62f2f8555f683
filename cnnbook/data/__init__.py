"""Handwritten digits, offline: a 5,000-image MNIST subset shipped inside the package, and a reader
for the original MNIST files a user may have on disk.

* :func:`load_mnist_subset` -- 5,000 28x28 MNIST digits (500 of each class) split once, stratified,
  into 4,000 training and 1,000 test images (400 / 100 per class).  Nothing is ever downloaded: the
  four gzipped IDX files sit next to this module (provenance, licence and checksums in
  ``README.md`` there; ``tools/make_mnist_subset.py`` made them).
* :func:`load_mnist` -- the full 60,000 / 10,000 MNIST from a directory holding the original IDX
  files (``train-images-idx3-ubyte[.gz]`` ...).
* :func:`read_idx` / :func:`write_idx` -- the IDX format itself.

Images come back as float32 in ``[0, 1]`` shaped ``(N, 1, 28, 28)`` (the book's ``(N, C, H, W)``
with one channel), labels as int64 class indices ``(N,)``.

The IDX format (big-endian): two zero bytes, a type byte (``0x08`` = unsigned byte, ...), a byte
giving the number of dimensions ``k``, then ``k`` uint32 sizes, then the data in row-major order.
Read as one big-endian int32 the first four bytes are the *magic number*: 2051 (``0x00000803``)
for MNIST images ``(N, 28, 28)`` and 2049 (``0x00000801``) for MNIST labels ``(N,)``.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "SUBSET_FILES",
    "SUBSET_SHA256",
    "load_mnist",
    "load_mnist_subset",
    "read_idx",
    "write_idx",
]

PathLike = str | os.PathLike[str]
Split = tuple[np.ndarray, np.ndarray]

DATA_DIR = Path(__file__).resolve().parent
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (N, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (N,)

# IDX type byte -> big-endian NumPy dtype.
_IDX_TYPES: dict[int, str] = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}

# The shipped subset (see README.md beside this file).
SUBSET_FILES = {
    "train_images": "mnist5k-train-images-idx3-ubyte.gz",
    "train_labels": "mnist5k-train-labels-idx1-ubyte.gz",
    "test_images": "mnist5k-test-images-idx3-ubyte.gz",
    "test_labels": "mnist5k-test-labels-idx1-ubyte.gz",
}
SUBSET_SHA256 = {
    "mnist5k-train-images-idx3-ubyte.gz": "9e0bf1c6fe2d1673def45e93a707b8a8055a0163e7a310823fc3bf01a0f9f7e9",
    "mnist5k-train-labels-idx1-ubyte.gz": "a1bf04935b6dde09800c1881c11a32950fc13bcb3d1c4029ed1c8a0ef06b68e7",
    "mnist5k-test-images-idx3-ubyte.gz": "c25e580998a94cefb371a593d08f743017656ffb196d3b77296d4cb435589077",
    "mnist5k-test-labels-idx1-ubyte.gz": "d320c6a0406a288caa2a3cd8f8d9afd59c5cf5a6ad18edbbbc0d94424d63863c",
}


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped if it starts with the gzip signature ``1f 8b``."""
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise ValueError(f"{path}: corrupt or truncated gzip stream ({err})") from None
    return raw


def read_idx(path: PathLike) -> np.ndarray:
    """Read one IDX file (gzipped or not) into an array of its stored shape and type.

    Validates the header (two zero bytes, a known type byte, ``k >= 1`` dimensions) and that the
    data are exactly ``prod(sizes)`` items long (computed exactly, so sizes whose product would
    overflow 64 bits are just "too long for the file"): a truncated file or trailing bytes raise
    :class:`ValueError` naming the file and both lengths, as does a corrupt gzip body.
    Multi-byte types are converted to native byte order.  ``uint8`` data (MNIST) come back as ``uint8``.
    """
    return _parse_idx(Path(path))[1]


def _parse_idx(path: Path) -> tuple[int, np.ndarray]:
    """``(magic number, array)`` of an IDX file; see :func:`read_idx`."""
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an IDX header (4 bytes + sizes)")
    zero, type_code, ndim = struct.unpack(">HBB", raw[:4])
    magic = struct.unpack(">i", raw[:4])[0]
    if zero != 0 or type_code not in _IDX_TYPES or ndim < 1:
        raise ValueError(
            f"{path}: not an IDX file (magic number {magic} = 0x{magic & 0xFFFFFFFF:08x}; expected "
            f"0x0000TTDD with a type byte TT in {sorted(hex(t) for t in _IDX_TYPES)} and DD >= 1 dimensions, "
            f"e.g. {IMAGES_MAGIC} for images, {LABELS_MAGIC} for labels)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated header: {ndim} dimensions need {header} bytes, file has {len(raw)}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[type_code])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: a huge header cannot overflow
    got = len(raw) - header
    if got != expected:
        problem = "truncated" if got < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: data {problem}: shape {tuple(shape)} of {dtype.name} needs {expected} bytes after "
            f"the {header}-byte header, found {got}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return magic, data.astype(dtype.newbyteorder("="))


def write_idx(path: PathLike, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzipped when ``compress`` (default: the name ends in ``.gz``).

    The gzip header carries no time stamp, so the same array always gives the same bytes (the
    shipped subset's checksums are reproducible).  Returns the path.  A dimension over ``2**32 - 1``
    (IDX stores sizes as uint32) raises :class:`ValueError` naming the dimension, before the file
    is touched.
    """
    path = Path(path)
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"IDX stores uint8, int8, int16, int32, float32 or float64, got {array.dtype}")
    if array.ndim < 1 or array.ndim > 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got shape {array.shape}")
    for axis, size in enumerate(array.shape):
        if size > 0xFFFFFFFF:
            raise ValueError(
                f"dimension {axis} of array has size {size:,}: IDX stores each size as a uint32 "
                f"(at most {0xFFFFFFFF:,}); cannot write {path}"
            )
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=_IDX_TYPES[code]).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    path.write_bytes(payload)
    return path


def _read_mnist(path: Path, magic: int) -> np.ndarray:
    """An MNIST IDX file's array after checking its magic number (2051 images, 2049 labels)."""
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    try:
        found, data = _parse_idx(path)
    except ValueError as err:
        raise ValueError(f"{err} (reading MNIST {kind})") from None
    if found != magic:
        raise ValueError(f"{path}: magic number {found}, expected {magic} for MNIST {kind}")
    return data


def _images_and_labels(images_path: Path, labels_path: Path) -> Split:
    """Read a matching pair of MNIST IDX files; images as float32 ``(N, 1, H, W)`` in [0, 1]."""
    images = _read_mnist(images_path, IMAGES_MAGIC)
    labels = _read_mnist(labels_path, LABELS_MAGIC)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{images_path}: expected uint8 images (N, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected uint8 labels (N,), got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(
            f"mismatched files: {images_path.name} holds {len(images)} images but "
            f"{labels_path.name} holds {len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: labels must be digits 0-9, found {int(labels.max())}")
    X = (images.astype(np.float32) / np.float32(255.0))[:, None]
    return X, labels.astype(np.int64)


def _find(directory: Path, stem: str) -> Path:
    """The original MNIST file ``stem`` in ``directory``: plain or gzipped, ``-idx`` or ``.idx`` spelling."""
    names = [stem, stem + ".gz"]
    dotted = stem.replace("-idx", ".idx")
    names += [dotted, dotted + ".gz"]
    for name in names:
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"no MNIST file {stem} in {directory} (looked for {', '.join(names)})")


def load_mnist(directory: PathLike) -> tuple[Split, Split]:
    """The full MNIST from the four original IDX files in ``directory`` (gzipped or not).

    Expects ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``
    and ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``; ``.idx3`` spellings accepted).
    Returns ``(X_train, y_train), (X_test, y_test)``: float32 ``(N, 1, 28, 28)`` in ``[0, 1]`` and
    int64 labels.  A missing, truncated or mismatched file raises with the file's name.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"MNIST directory not found: {directory}")
    train = _images_and_labels(
        _find(directory, "train-images-idx3-ubyte"), _find(directory, "train-labels-idx1-ubyte")
    )
    test = _images_and_labels(
        _find(directory, "t10k-images-idx3-ubyte"), _find(directory, "t10k-labels-idx1-ubyte")
    )
    return train, test


def sha256(path: PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_mnist_subset(*, verify: bool = True) -> tuple[Split, Split]:
    """The shipped 5,000-digit MNIST subset: ``(X_train, y_train), (X_test, y_test)``.

    4,000 training and 1,000 test images, 400 and 100 of each digit (a fixed, seeded, stratified
    split; both sets in shuffled order).  Images are float32 ``(N, 1, 28, 28)`` in ``[0, 1]``
    (pixel / 255), labels int64 in ``0..9``.  With ``verify`` the files' SHA-256 checksums are
    checked first (about a millisecond), so a damaged installation fails loudly.
    """
    paths = {key: DATA_DIR / name for key, name in SUBSET_FILES.items()}
    if verify:
        for path in paths.values():
            if not path.is_file():
                raise FileNotFoundError(f"shipped data file missing: {path} (reinstall cnnbook)")
            if sha256(path) != SUBSET_SHA256[path.name]:
                raise ValueError(
                    f"{path}: SHA-256 checksum mismatch; the file is damaged (reinstall cnnbook)"
                )
    train = _images_and_labels(paths["train_images"], paths["train_labels"])
    test = _images_and_labels(paths["test_images"], paths["test_labels"])
    return train, test
