"""Activations, losses and small layers as pure functions: a forward and a backward for each.

Every function here is a plain NumPy function of arrays (no state, inputs never modified), so the
lessons can derive its gradient on paper and check it against :mod:`cnnbook.gradcheck`, and the
layer classes can be thin wrappers around it.

One scheme throughout
---------------------
For a function ``y = f(x)`` the pair is

* ``f(x, ...) -> y``
* ``f_backward(G, x, ...) -> dL/dx``, where ``G = dL/dy`` has the shape of ``y`` (the *upstream*
  gradient) and the result has the shape of ``x``.

This is the lectures' ``[left gradient] = [right gradient] . [local gradient]`` without ever
forming the local Jacobian.  For an elementwise activation the Jacobian is diagonal,
``diag(f'(vec x))``, so ``f_backward(G, x) == G * f'(x)`` and ``f_backward(np.ones_like(x), x)``
*is* the derivative ``f'(x)`` (that is how lesson 04 plots it).  Derivatives at a kink follow the
lecture's ``Ind(x > 0)``: ReLU'(0) = 0, leaky ReLU'(0) = alpha, ELU'(0) = alpha.

Losses return ``(loss, dscores)`` in one call, because their gradient needs what the forward
computed.  Scores are rows: ``s`` of shape ``(N, C)`` holds ``N`` examples (the lectures'
column vector ``s`` of one example is a row here); a 1-D ``(C,)`` vector is one example.  Labels
are integer class indices ``y`` of shape ``(N,)`` (or a scalar for one example); the softmax
losses also accept a target distribution ``t`` (one-hot or soft) of the same shape as the scores.
Losses are averaged over the batch, so their gradient carries the ``1/N``.

Functions
---------
Activations: :func:`sigmoid`, :func:`tanh`, :func:`relu`, :func:`leaky_relu`, :func:`elu`,
:func:`swish`, :func:`prelu` (whose slope is a parameter, so its backward also returns ``dL/dalpha``),
:func:`maxout`, each with ``*_backward``.
Layers: :func:`linear` / :func:`linear_backward` (fully connected, ``s = W x + b``),
:func:`mean_subtract` / :func:`mean_subtract_backward` (backward equals forward).
Probabilities and losses: :func:`softmax`, :func:`log_softmax`, :func:`cross_entropy`,
:func:`softmax_cross_entropy`, :func:`svm_loss`.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_axis, as_flag, as_float_array, as_int, as_real

__all__ = [
    "cross_entropy",
    "elu",
    "elu_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "linear",
    "linear_backward",
    "log_softmax",
    "maxout",
    "maxout_backward",
    "mean_subtract",
    "mean_subtract_backward",
    "prelu",
    "prelu_backward",
    "relu",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "softmax",
    "softmax_cross_entropy",
    "svm_loss",
    "swish",
    "swish_backward",
    "tanh",
    "tanh_backward",
]


def _arr(x: object, name: str) -> np.ndarray:
    """``x`` as a float ndarray of any ndim (float32 kept, integers -> float64)."""
    return as_float_array(x, name, None)


def _upstream(G: object, shape: tuple[int, ...], name: str = "G") -> np.ndarray:
    G = _arr(G, name)
    if G.shape != tuple(shape):
        raise ValueError(f"upstream gradient {name} has shape {G.shape}, expected {tuple(shape)}")
    return G


# --------------------------------------------------------------------------------------------
# Elementwise activations
# --------------------------------------------------------------------------------------------


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``sigma(x) = 1 / (1 + exp(-x))`` elementwise, in (0, 1); any shape.

    Computed without overflow for large ``|x|``: ``exp`` only ever sees ``-|x|``.
    """
    x = _arr(x, "x")
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(G: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dL/dx = G * sigma(x) (1 - sigma(x))``; ``G`` and ``x`` of the same shape."""
    x = _arr(x, "x")
    s = sigmoid(x)
    return _upstream(G, x.shape) * s * (1 - s)


def tanh(x: np.ndarray) -> np.ndarray:
    """``tanh(x) = (e^x - e^-x) / (e^x + e^-x) = 2 sigma(2x) - 1`` elementwise, in (-1, 1)."""
    return np.tanh(_arr(x, "x"))


def tanh_backward(G: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dL/dx = G * (1 - tanh(x)^2)``."""
    x = _arr(x, "x")
    return _upstream(G, x.shape) * (1 - np.tanh(x) ** 2)


def relu(x: np.ndarray) -> np.ndarray:
    """``max(0, x)`` elementwise (the lectures' ``H = max(0, S)``)."""
    x = _arr(x, "x")
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def relu_backward(G: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dL/dx = G * Ind(x > 0)``: the diagonal Jacobian ``diag(Ind(vec(x) > 0))`` applied to ``G``."""
    x = _arr(x, "x")
    return _upstream(G, x.shape) * (x > 0)


def leaky_relu(x: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """``max(alpha x, x)`` elementwise (``x`` for ``x > 0``, ``alpha x`` otherwise), ``0 <= alpha <= 1``.

    The lecture's example uses ``alpha = 0.1``; ``alpha = 0`` is ReLU.
    """
    x = _arr(x, "x")
    a = as_real(alpha, "alpha", 0.0, 1.0)
    return np.where(x > 0, x, a * x).astype(x.dtype, copy=False)


def leaky_relu_backward(G: np.ndarray, x: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """``dL/dx = G * (1 if x > 0 else alpha)``."""
    x = _arr(x, "x")
    a = as_real(alpha, "alpha", 0.0, 1.0)
    return _upstream(G, x.shape) * np.where(x > 0, 1.0, a).astype(x.dtype, copy=False)


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha (e^x - 1)`` otherwise; ``alpha >= 0``.

    Smooth at 0 when ``alpha = 1``; saturates at ``-alpha`` for very negative ``x``.
    """
    x = _arr(x, "x")
    a = as_real(alpha, "alpha", 0.0)
    return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


def elu_backward(G: np.ndarray, x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """``dL/dx = G * (1 if x > 0 else alpha e^x)``."""
    x = _arr(x, "x")
    a = as_real(alpha, "alpha", 0.0)
    local = np.where(x > 0, 1.0, a * np.exp(np.minimum(x, 0))).astype(x.dtype, copy=False)
    return _upstream(G, x.shape) * local


def swish(x: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """Swish ``x * sigma(beta x)`` elementwise (``beta = 1``: SiLU); ``beta >= 0``, ``beta = 0`` is ``x / 2``.

    Smooth everywhere, not monotonic: it dips to about ``-0.278 / beta`` near ``x = -1.28 / beta``.
    """
    x = _arr(x, "x")
    b = as_real(beta, "beta", 0.0)
    return x * sigmoid(b * x)


def swish_backward(G: np.ndarray, x: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """``dL/dx = G * (sigma(beta x) + beta x sigma(beta x) (1 - sigma(beta x)))``."""
    x = _arr(x, "x")
    b = as_real(beta, "beta", 0.0)
    s = sigmoid(b * x)
    return _upstream(G, x.shape) * (s + b * x * s * (1 - s))


def _slope(alpha: object, x: np.ndarray) -> np.ndarray:
    """PReLU's ``alpha``: a real array that broadcasts to ``x`` without changing ``x``'s shape."""
    a = as_float_array(alpha, "alpha", None)
    fits = a.ndim <= x.ndim and all(n in (1, m) for n, m in zip(a.shape[::-1], x.shape[::-1]))
    if not fits:
        raise ValueError(f"alpha of shape {a.shape} does not broadcast to x's shape {x.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("alpha must be finite")
    return a


def prelu(x: np.ndarray, alpha: np.ndarray | float = 0.25) -> np.ndarray:
    """Parametric ReLU: ``x`` for ``x > 0``, ``alpha x`` otherwise, with a *learned* slope ``alpha``.

    ``alpha`` broadcasts to ``x``: a scalar (one slope), or per channel, e.g. shape ``(C, 1, 1)``
    for data ``(N, C, H, W)`` as He et al. (2015) use it.  A fixed ``alpha`` is :func:`leaky_relu`.
    """
    x = _arr(x, "x")
    a = _slope(alpha, x)
    return np.where(x > 0, x, a * x).astype(x.dtype, copy=False)


def prelu_backward(
    G: np.ndarray, x: np.ndarray, alpha: np.ndarray | float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """``(dL/dx, dL/dalpha)``: ``dL/dx = G * (1 if x > 0 else alpha)`` and
    ``dL/dalpha = sum of G * x over the entries with x <= 0`` that share each slope, shaped like ``alpha``."""
    x = _arr(x, "x")
    a = _slope(alpha, x)
    G = _upstream(G, x.shape)
    dx = G * np.where(x > 0, 1.0, a).astype(x.dtype, copy=False)
    per_entry = np.where(x > 0, 0.0, G * x)
    lead = per_entry.ndim - a.ndim
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(a.shape) if n == 1)
    dalpha = per_entry.sum(axis=axes).reshape(a.shape).astype(np.result_type(a.dtype, x.dtype), copy=False)
    return dx, dalpha


# --------------------------------------------------------------------------------------------
# Maxout: the max over groups of units (not elementwise)
# --------------------------------------------------------------------------------------------


def _axis(axis: object, x: np.ndarray, name: str) -> int:
    """``axis`` of ``x`` as a non-negative int: :class:`TypeError` for floats (``1.9`` is not
    truncated) and bools, :class:`ValueError` out of range or for a 0-d ``x``."""
    ax = as_axis(axis, "axis")
    if not -x.ndim <= ax < x.ndim:
        raise ValueError(f"axis {axis} out of range for {name} of shape {x.shape}")
    return ax % x.ndim


def _maxout_groups(x: np.ndarray, pieces: int, axis: int) -> tuple[np.ndarray, int]:
    """``x`` with ``axis`` (length ``K * pieces``) split into ``(K, pieces)``; returns (view, axis)."""
    pieces = as_int(pieces, "pieces")
    if x.ndim == 0:
        raise ValueError("maxout needs at least one axis to group, got a scalar")
    ax = _axis(axis, x, "x")
    n = x.shape[ax]
    if pieces < 1 or n % pieces:
        raise ValueError(f"axis {axis} of x {x.shape} has length {n}, not a multiple of pieces={pieces}")
    shape = (*x.shape[:ax], n // pieces, pieces, *x.shape[ax + 1 :])
    return x.reshape(shape), ax


def maxout(x: np.ndarray, pieces: int, axis: int = -1) -> np.ndarray:
    """Maxout: unit ``k`` of the output is ``max(x_{k p}, ..., x_{k p + p - 1})`` along ``axis``.

    ``x`` holds the ``p = pieces`` pre-activations of each unit side by side along ``axis``
    (e.g. ``x = [w_1^T v + b_1, w_2^T v + b_2, ...]``), so that axis has length ``K * pieces`` and
    the output has length ``K`` there.  With ``pieces = 2`` and the lecture's two affine pieces this
    is ``max(w_1^T v + b_1, w_2^T v + b_2)``.  For ``(N, C, H, W)`` data group channels with
    ``axis=1``.
    """
    x = _arr(x, "x")
    groups, ax = _maxout_groups(x, pieces, axis)
    return groups.max(axis=ax + 1)


def maxout_backward(G: np.ndarray, x: np.ndarray, pieces: int, axis: int = -1) -> np.ndarray:
    """``dL/dx``: each group's ``G`` goes to its winning piece (the first one on ties), 0 elsewhere.

    ``G`` has the shape of ``maxout(x, pieces, axis)``; the result has the shape of ``x``.
    """
    x = _arr(x, "x")
    groups, ax = _maxout_groups(x, pieces, axis)
    out_shape = groups.shape[: ax + 1] + groups.shape[ax + 2 :]
    G = _upstream(G, out_shape)
    winner = np.expand_dims(groups.argmax(axis=ax + 1), ax + 1)
    mask = np.arange(pieces).reshape((pieces,) + (1,) * (groups.ndim - ax - 2)) == winner
    return (mask * np.expand_dims(G, ax + 1)).reshape(x.shape).astype(x.dtype, copy=False)


# --------------------------------------------------------------------------------------------
# Layers: fully connected, mean subtraction
# --------------------------------------------------------------------------------------------


def _check_linear(x: np.ndarray, W: np.ndarray) -> None:
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (M, D) = (out_features, in_features), got shape {W.shape}")
    if x.ndim not in (1, 2) or x.shape[-1] != W.shape[1]:
        raise ValueError(
            f"x must be (D,) or (N, D) with D = {W.shape[1]} to match W {W.shape}, got {x.shape}"
        )


def linear(x: np.ndarray, W: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Fully connected layer ``s = W x + b`` for each example.

    ``x``: ``(D,)`` (one example, the lectures' ``vec(H)``) or ``(N, D)`` (rows are examples);
    ``W``: ``(M, D)`` = ``(out_features, in_features)``; ``b``: ``(M,)`` or None.  Returns ``(M,)``
    or ``(N, M)``: ``x @ W.T + b``.
    Its Jacobian with respect to ``x`` is ``W`` itself.
    """
    x, W = _arr(x, "x"), _arr(W, "W")
    _check_linear(x, W)
    s = x @ W.T
    if b is not None:
        b = _arr(b, "b")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape ({W.shape[0]},) to match W {W.shape}, got {b.shape}")
        s = s + b
    return s


def linear_backward(G: np.ndarray, x: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the fully connected layer: ``(dx, dW, db)``.

    ``W`` is ``(M, D)`` = ``(out_features, in_features)``; ``G = dL/ds`` is ``(M,)`` or ``(N, M)``.
    ``dx = G W`` (row vector times the Jacobian ``W``), ``dW = G^T x`` (for one example the outer
    product ``g^T x^T``), ``db = sum of G over the batch``; each has the shape of ``x``, ``W`` and
    ``b``.
    """
    x, W = _arr(x, "x"), _arr(W, "W")
    _check_linear(x, W)
    G = _upstream(G, (*x.shape[:-1], W.shape[0]))
    G2, x2 = np.atleast_2d(G), np.atleast_2d(x)
    return G @ W, G2.T @ x2, G2.sum(axis=0)


def mean_subtract(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``h_i = x_i - (1/D) sum_k x_k`` along ``axis`` (length ``D``), for every other index.

    For ``(N, D)`` data (rows are examples) the default subtracts each row's own mean.  The mean
    keeps its axis (``keepdims=True``) so that it broadcasts against the right axis; see lesson 04
    for what goes wrong without it.
    """
    x = _arr(x, "x")
    ax = _axis(axis, x, "x")
    return x - x.mean(axis=ax, keepdims=True)


def mean_subtract_backward(G: np.ndarray, x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``dL/dx_j = G_j - (1/D) sum_i G_i``: the layer's Jacobian ``I - 11^T/D`` is symmetric and
    idempotent, so the backward pass is the forward pass applied to ``G``.

    Takes ``G`` then the forward's arguments, like every backward here; ``x`` is used only for its
    shape (the Jacobian does not depend on it), which ``G`` must match.
    """
    x = _arr(x, "x")
    G = _upstream(G, x.shape)
    ax = _axis(axis, x, "x")
    return G - G.mean(axis=ax, keepdims=True)


# --------------------------------------------------------------------------------------------
# Softmax and losses
# --------------------------------------------------------------------------------------------


def softmax(s: np.ndarray, axis: int = -1) -> np.ndarray:
    """``p_j = exp(s_j) / sum_k exp(s_k)`` along ``axis``, computed stably.

    Subtracting ``c = max_k s_k`` first changes nothing mathematically (``e^{-c}`` cancels) but
    keeps every exponent ``<= 0`` (no overflow) and one of them ``= 0`` (the sum is ``>= 1``: no
    ``0/0``).  Scores of ``+-1000`` therefore work.
    """
    s = _arr(s, "s")
    ax = _axis(axis, s, "s")
    e = np.exp(s - s.max(axis=ax, keepdims=True))
    return e / e.sum(axis=ax, keepdims=True)


def log_softmax(s: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log p_j = s_j - c - log sum_k exp(s_k - c)`` with ``c = max_k s_k``: finite for any finite ``s``."""
    s = _arr(s, "s")
    ax = _axis(axis, s, "s")
    z = s - s.max(axis=ax, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=ax, keepdims=True))


def _targets(y: object, scores: np.ndarray) -> np.ndarray:
    """Labels as a target distribution ``t`` with the shape of ``scores`` (one-hot for class indices)."""
    y = np.asarray(y)
    if y.shape == scores.shape:
        if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.number):
            raise TypeError(f"target distribution must be numeric, got dtype {y.dtype}")
        return y.astype(scores.dtype)
    return np.eye(scores.shape[-1], dtype=scores.dtype)[_labels(y, scores)]


def _labels(y: object, scores: np.ndarray) -> np.ndarray:
    """Integer class indices of shape ``scores.shape[:-1]``, each in ``[0, C)``."""
    y = np.asarray(y)
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels y must be integer class indices, got dtype {y.dtype}")
    if y.shape != scores.shape[:-1]:
        raise ValueError(
            f"labels y of shape {y.shape} do not match scores {scores.shape}: expected "
            f"{scores.shape[:-1]} class indices (or a target distribution of shape {scores.shape})"
        )
    C = scores.shape[-1]
    if y.size and (y.min() < 0 or y.max() >= C):
        raise ValueError(f"labels must lie in [0, {C}), got min {y.min()} and max {y.max()}")
    return y


def _scores(s: object, name: str) -> np.ndarray:
    s = as_float_array(s, name, (1, 2))
    if s.shape[-1] < 2:
        raise ValueError(f"{name} needs at least 2 classes along the last axis, got shape {s.shape}")
    return s


def cross_entropy(p: np.ndarray, y: np.ndarray, *, from_logits: bool = False) -> float:
    """Mean cross-entropy ``-(1/N) sum_i sum_j t_ij log p_ij`` (``= -(1/N) sum_i log p_{i, y_i}``).

    ``p``: probabilities ``(N, C)`` or ``(C,)``; with ``from_logits=True``, raw scores instead, and
    ``log p`` is computed by :func:`log_softmax` (stable).  ``y``: class indices ``(N,)`` / scalar,
    or a target distribution shaped like ``p``.  A zero probability on the true class gives
    ``inf`` (no warning); from logits the loss is always finite.
    """
    from_logits = as_flag(from_logits, "from_logits")
    p = _scores(p, "p")
    t = _targets(y, p)
    if from_logits:
        logp = log_softmax(p)
    else:
        with np.errstate(divide="ignore"):
            logp = np.log(p)
    N = p.shape[0] if p.ndim == 2 else 1
    # 0 * log 0 counts as 0 (classes the target gives no mass to), without computing 0 * -inf.
    terms = t * np.where(t != 0, logp, 0.0)
    return float(-terms.sum() / N)


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax followed by cross-entropy, averaged over the batch: ``(loss, dL/dlogits)``.

    ``logits``: ``(N, C)`` or ``(C,)``; ``y``: class indices or a target distribution ``t``.
    With ``p = softmax(logits)``, the gradient is ``(p - t) / N``; for one example ``(C,)`` it is
    ``p - t``, the lectures' ``dl/ds = -(y - p)^T`` (their ``y`` is the one-hot ``t``).  Stable for
    scores of any magnitude (see :func:`softmax`).
    """
    s = _scores(logits, "logits")
    t = _targets(y, s)
    N = s.shape[0] if s.ndim == 2 else 1
    loss = cross_entropy(s, t, from_logits=True)
    return loss, (softmax(s) - t) / N


def svm_loss(scores: np.ndarray, y: np.ndarray, margin: float = 1.0) -> tuple[float, np.ndarray]:
    """Multiclass hinge (SVM) loss averaged over the batch: ``(loss, dL/dscores)``.

    ``L_i = sum_{j != y_i} max(0, s_ij - s_{i, y_i} + margin)``, ``L = (1/N) sum_i L_i``.
    Gradient: each class ``j != y_i`` whose margin is violated (term ``> 0``) gets ``+1/N`` and the
    true class gets ``-(number of violators)/N``.  At a kink (term exactly 0) the subgradient 0 is
    used.  ``scores``: ``(N, C)`` or ``(C,)``; ``y``: class indices ``(N,)`` or a scalar.
    """
    s = _scores(scores, "scores")
    m = as_real(margin, "margin", 0.0)
    y = _labels(y, s)
    s2, y2 = np.atleast_2d(s), np.atleast_1d(y)
    N = s2.shape[0]
    rows = np.arange(N)
    terms = s2 - s2[rows, y2][:, None] + m
    terms[rows, y2] = 0.0
    hinge = np.maximum(terms, 0)
    active = (terms > 0).astype(s.dtype)
    active[rows, y2] = 0.0 - active.sum(axis=1)  # 0.0 - 0 is +0.0 (no '-0.' in printouts)
    return float(hinge.sum() / N), (active / N).reshape(s.shape)
