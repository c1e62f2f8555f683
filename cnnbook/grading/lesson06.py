"""Lesson 06's graded exercise: the input gradient of a convolution layer with stride and padding.

Oracle: the explicit matrix ``M_F^filter`` of the bank (:func:`cnnbook.matrices.make_MF`, with the
layer's stride and padding): ``vec(S[n]) = M_F vec(X[n])``, so ``vec(dL/dX[n]) = M_F^T vec(G[n])``
— the lesson's section 1, which shares no code with the student's zero insertion, flip and crop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..conv import conv2d_backward
from ..matrices import make_MF
from ..shapes import unused_size
from .cases import CONV_SETTINGS, conv_arrays, conv_upstream
from .framework import Case, Exercise, Mistake, labelled, register, sized

__all__ = ["CONV2D_INPUT_GRAD"]


def _cases() -> list[Case]:
    cases = []
    for seed, s in enumerate(CONV_SETTINGS):
        _, F, _ = conv_arrays(s, seed)
        G = conv_upstream(s, 200 + seed)
        label = labelled(G=G, F=F, input_size=(s.H, s.W), stride=s.stride, padding=s.padding)
        cases.append(Case(label, (G, F, (s.H, s.W), s.stride, s.padding), size=sized((G, F))))
    return cases


def _oracle(case: Case) -> Any:
    """``vec(dX[n]) = M_F^T vec(G[n])`` for every image ``n``."""
    G, F, (H, W), stride, padding = case.args
    C = F.shape[1]
    MF = make_MF(F, (C, H, W), stride, padding)
    return np.stack([(MF.T @ G[n].reshape(-1)).reshape(C, H, W) for n in range(G.shape[0])])


def _rule(case: Case, *, flip_F: bool = True, flip_G: bool = False, crop: str = "both") -> np.ndarray:
    """The lesson's rule with optional slips: insert zeros (+ unused rows), pad by f-1, cross-correlate
    with the rotated, transposed bank, crop ``padding`` per side (``crop="start"``: all at the end)."""
    G, F, (H, W), (sh, sw), (ph, pw) = case.args
    N, K, Ho, Wo = G.shape
    _, C, fh, fw = F.shape
    eh, ew = unused_size(H, fh, sh, ph), unused_size(W, fw, sw, pw)
    Gd = np.zeros((N, K, (Ho - 1) * sh + 1 + eh, (Wo - 1) * sw + 1 + ew))
    Gd[:, :, : (Ho - 1) * sh + 1 : sh, : (Wo - 1) * sw + 1 : sw] = G[:, :, ::-1, ::-1] if flip_G else G
    Gp = np.pad(Gd, ((0, 0), (0, 0), (fh - 1, fh - 1), (fw - 1, fw - 1)))
    B = F[:, :, ::-1, ::-1] if flip_F else F
    Hp, Wp = Gp.shape[2] - fh + 1, Gp.shape[3] - fw + 1  # = H + 2 ph, W + 2 pw
    dXp = np.zeros((N, C, Hp, Wp))
    for i in range(fh):
        for j in range(fw):
            dXp += np.einsum("nkyx,kc->ncyx", Gp[:, :, i : i + Hp, j : j + Wp], B[:, :, i, j])
    if crop == "start":
        return dXp[:, :, :H, :W]
    return dXp[:, :, ph : ph + H, pw : pw + W]


def conv2d_input_grad_reference(
    G: np.ndarray,
    F: np.ndarray,
    input_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> np.ndarray:
    """The instructor's answer: the package's backward pass (its input part)."""
    X = np.zeros((G.shape[0], F.shape[1], *input_size))
    return conv2d_backward(G, X, F, stride=stride, padding=padding)[0]


CONV2D_INPUT_GRAD = register(
    Exercise(
        name="conv2d_input_grad",
        lesson="06",
        signature=(
            "conv2d_input_grad(G, F, input_size, stride, padding) -> dX\n"
            "    G = dL/dS (N, K, H', W'), F (K, C, fh, fw), input_size (H, W), stride (sh, sw),\n"
            "    padding (ph, pw) per side; dX (N, C, H, W):\n"
            "    dX[n,c] = crop_p( sum_k pad_{f-1}(dilate_s(G[n,k]) + unused rows) * rot180(F[k,c]) )"
        ),
        reference=conv2d_input_grad_reference,
        cases=_cases,
        oracle=_oracle,
        outputs=("dX",),
        mistakes=(
            Mistake(
                "the rule without the 180° rotation of the filter (the input gradient is a true "
                "convolution: G's indices run forwards while F's run backwards)",
                lambda c: _rule(c, flip_F=False),
            ),
            Mistake(
                "the rule with one flip too many: G was rotated as well as F (only the filter is rotated)",
                lambda c: _rule(c, flip_G=True),
            ),
            Mistake(
                "the rule cropped at the wrong place: the padding is removed from BOTH sides, "
                "p rows at the top and p at the bottom (likewise columns)",
                lambda c: _rule(c, crop="start"),
            ),
        ),
    )
)
