"""fast.tricks_off: the switch lesson 08 measures the tricks with changes the time, never the result."""

import numpy as np
import pytest

import cnnbook
from cnnbook import fast

TRICKS = tuple(fast._TRICKS)  # every switch, including any added later


@pytest.mark.parametrize("names", [(name,) for name in TRICKS] + [TRICKS])
def test_results_with_tricks_off_equal_the_textbook_core(names):
    rng = np.random.default_rng(15)
    X, F, b = rng.standard_normal((3, 2, 9, 7)), rng.standard_normal((4, 2, 3, 2)), rng.standard_normal(4)
    G = rng.standard_normal((3, 4, 5, 8))
    S_ref = cnnbook.conv2d(X, F, b, stride=(2, 1), padding=1)
    grads_ref = cnnbook.conv2d_backward(G, X, F, stride=(2, 1), padding=1)
    with fast.tricks_off(*names):
        assert all(not fast._TRICKS[name] for name in names)
        S = fast.conv2d(X, F, b, stride=(2, 1), padding=1)
        grads = fast.conv2d_backward(G, X, F, stride=(2, 1), padding=1)
    np.testing.assert_allclose(S, S_ref, rtol=1e-12, atol=1e-12)
    for mine, ref in zip(grads, grads_ref):
        np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-12)
    assert all(fast._TRICKS[name] for name in TRICKS)  # every switch back on


def test_switches_are_restored_after_an_exception_and_unknown_names_are_refused():
    with pytest.raises(RuntimeError), fast.tricks_off("workspaces"):
        assert not fast._TRICKS["workspaces"]
        raise RuntimeError("inside the block")
    assert fast._TRICKS["workspaces"]
    with pytest.raises(ValueError, match="names: unknown trick"), fast.tricks_off("workspaces", "warp_drive"):
        pass
    assert all(fast._TRICKS[name] for name in TRICKS)  # nothing was switched before the refusal
