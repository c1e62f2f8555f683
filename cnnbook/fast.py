"""The fast path: convolution, pooling and ReLU with the measured speed tricks, for layers and benchmarks.

Every function here takes the same arguments and returns the same results as its namesake in the
textbook core (:mod:`cnnbook.conv`, :mod:`cnnbook.pool`, :func:`cnnbook.functional.relu`), with two
exceptions: :func:`conv2d_backward`
has one extra argument, ``input_grad`` (trick 5), and the ``cols`` that :func:`conv2d` returns with
``return_cols=True`` may be in a wider layout (trick 1) or a narrower one (trick 13) that only
:func:`conv2d_backward` of this module accepts; :func:`layouts` says which branches a geometry
takes.  ``tests/test_fast.py`` and ``tests/test_fast_branches.py`` hold the two equal on random
geometries (strides, padding, dilation, sizes the stride does not divide, ties, NaN, float32 and
float64).  Read the core to learn the algorithms; read this module to see what it took to make
them fast on a CPU.  The tricks, and what each bought when it was measured (2 cores, float32;
figures from the commit messages that introduced them, single measurements unless a range is
given; tricks 2, 3, 5 and 6 came with the
training-speed work and were measured together, by ``benchmarks/train_speed.py``, not one by one;
tricks 8 to 10, 12, 13, 15 and 17 to 22 are measured one by one by ``benchmarks/conv_speed.py
--ablation``, and trick 14 with trick 1's switch):

1. **Full-row layout for dX** (column stride 1).  Every output row is computed at all
   ``W + 2p_w`` columns of the padded row; the last ``d_w(f_w - 1)`` of them are garbage, dropped.
   Each filter tap's block is then *one contiguous run* per (channel, image) instead of ``H'``
   runs of ``W'`` pixels, so the col2im additions run faster, for ``(W + 2p_w)/W'`` times the
   GEMM work and a second copy of ``G``.  Measured on the benchmark shapes (one thread), it pays
   for dX when ``W' <= 20`` (``W'`` = 14 and 16: 5-15% off forward+backward) and not for
   ``W' = 28`` or 32, and it never paid for the columns: exact ``im2col`` columns won the forward
   on every shape (widening 1.06 to 1.29), so the columns use full rows only where nothing is
   wasted (``W + 2p_w = W'``).  The ``layout_choice`` switch off gives the previous rule, full
   rows for both whenever ``s_w = 1``; then the columns' garbage is zeroed when X holds NaN or
   inf, and such ``cols`` are *not* ``im2col(X)``: only :func:`conv2d_backward` here accepts
   them (it also accepts plain ``im2col(X)`` columns).  dX also takes full rows whenever trick 15
   applies, and, by trick 14, whatever the stride.
2. **Padding and channel-major reorder in one pass**: the input is written once into a
   ``(C, N, H + 2p, W + 2p)`` buffer, the order of the columns' rows (a workspace, trick 9: its
   zero border is written once).
3. **Bias on the GEMM output**: ``+ b`` on the contiguous rows of ``(K, N*H'*Wq)``, then one
   reorder to ``(N, K, H', W')``; 1.2-1.6x faster on the benchmark shapes than adding it during the
   reorder (a broadcast over a transposed view), which was the trick before.  The product's rows
   are 16 elements longer than needed: with a row stride of a power of two (``N H' W'`` = 64 * 1024
   floats on ``(64, 3, 32, 32)``) the reorder's reads of one column of blocks all fall into the
   same cache sets, and that forward took 7.8 instead of 6.4 ms (one thread).
4. **dF in the faster GEMM orientation**: ``dF = (cols @ G_mat.T).T``; BLAS runs the long inner
   dimension ``N*H'*W'`` in this orientation up to twice as fast (and trick 18 cuts that dimension
   into chunks when dF is small).  ``db`` is ``G_mat`` times a vector of ones: one GEMV over the
   contiguous rows, 0.14 instead of ``sum(axis=1)``'s 0.45 ms on ``(32, 65536)``.  (Trick 13's
   layers differ: the bias is added while its products are summed, and ``db`` is a GEMV of each
   ``(image, filter)`` plane of ``G`` against ones, the images then added.)
5. **``input_grad=False``** skips ``dX`` (a network's first layer needs no gradient for its data).
6. **Remembered geometries**: a training loop asks for the same few geometries thousands of
   times.  Arguments are validated first (as in the core), *then* the normalized int tuples key a
   cache of :class:`~cnnbook.im2col.Geometry` objects, skipping the output-size checks.
7. **Max pooling** (forward with winners 3.2 -> 1.4 ms, backward 0.8 -> 0.4 ms on
   ``(64, 8, 28, 28)`` ReLU outputs, 2x2, one thread): window cells are strided *views* of ``X``
   when windows tile the input (nothing copied); the first winner is the number of leading cells
   that are not the maximum, ``m_0 (1 + m_1 (1 + ...))``, counted in ``uint8`` from the inside out
   (1.0 -> 0.4 ms against the bitmask and lookup table of first set bits it replaced, which was
   itself several times faster than ``argmax`` over the cells); winner positions by arithmetic;
   the backward *assigns* ``G`` directly when windows do not overlap (every winner is distinct)
   instead of adding with ``bincount``.  Without ``return_indices`` the winners are not looked
   for at all.  (Before these: first maximum by row comparison and winner positions by one
   gather, 5.7 -> 3.2 ms.)
8. **One strided copy**: every tap's block is a slice of one 6-D strided view of the padded
   buffer, ``(C, fh, fw, N, H', Wq)``, copied into the columns by a single ``np.copyto`` instead
   of ``fh fw`` copies.
9. **Workspaces**: the scratch arrays of a call (padded input, GEMM output, ``G`` in the working
   layout, dX's columns and accumulator) are kept per shape and reused by the next call, which
   skips the allocation, the page faults and the zero fills.  Nothing a call returns is a
   workspace (the columns are fresh: a layer keeps them until its backward).  Each thread has
   workspaces of its own (trick 20 runs parts of a batch on threads; two threads may also call
   this module at once).
10. **dX a block of images at a time**: dX's columns are made and added up at most 8 MB at a
    time, which bounds that workspace whatever the batch.
11. Tried and dropped, then revived as trick 20: splitting the copies over a second Python
    thread (NumPy releases the GIL inside a copy).  The copies alone do run in parallel -- the 18
    MB columns of ``(64, 32, 16, 16)x(64, 32, 3, 3)`` in 1.0 instead of 1.9 ms -- but between the
    GEMMs of a real call they meet OpenBLAS's own worker thread, which by default keeps spinning
    for ~0.1 s after every GEMM: forward and forward+backward with two BLAS threads came out 4-12
    % slower on the seven layers tried, with outliers 3x slower.  The same was first measured for
    whole half-batches in two threads (5.0-5.8 ms a training step against 5.4-6.0, blamed then on
    the GIL; the spinning worker was the larger part).  Trick 20 runs the parts only when that
    worker sleeps at once (``OPENBLAS_THREAD_TIMEOUT``).  Also dropped: dX blocks small enough for
    the L2 cache (256 KB - 1 MB) were slower than 8 MB ones (also, within noise, with trick 20's
    parts).  Two *processes* on half-batches, :mod:`cnnbook.parallel` (``fit(..., processes=2)``),
    need no environment variable; they train faster than one process with trick 20.
12. **dX's horizontal taps inside the GEMM** (full-row dX, ``s_h = 1``, ``C > 1``): on full rows
    tap ``(i, j)`` adds ``F_ij^T G`` at a flat offset, so shifting ``G`` by ``j d_w`` instead of
    shifting the product turns the ``f_w`` additions of one filter row into one GEMM over ``f_w``
    stacked shifted copies of ``G``; ``f_h`` additions remain instead of ``f_h f_w``, and the GEMM's
    output is ``f_w`` times smaller.  On ``(64, 8, 14, 14)x(16, 8, 5, 5) p2`` it takes 18 % off
    forward+backward (dX 6.9 -> 4.1 ms, one thread; ``conv_speed.py --cpu`` then puts forward+backward
    at 1.52-1.54x the GEMM floor, against 1.94x before); 3x3 filters gain little (3 %) and a single
    input channel loses (hence ``C > 1``).  Folding the vertical taps in as well -- dX as the
    convolution of padded ``G`` with the flipped, transposed filters, one im2col and one GEMM --
    was slower than the additions on the four stride-1 benchmark shapes (copying its ``K f_h f_w x
    N H W`` columns costs more than the additions save): dX 7.2 vs 5.6 ms on the shape above, 25.7
    vs 17.5 ms on ``(64, 32, 16, 16)x(64, 32, 3, 3) p1``.  (The first of those shapes now takes
    trick 13, whose backward builds the same stack.)

13. **Row-shifted columns** (stride 1, ``f_w > 1``, ``K <= 0.85 C f_h``).  On full rows the im2col
    column of tap ``(c, i, j)`` is the column of tap ``(c, i, 0)`` shifted by ``j d_w``, so the
    columns keep one row per ``(c, i)``: ``(C f_h, N (H' row + e))``, ``e = d_w (f_w - 1)``, ``row
    = W + 2p_w`` (``W + p_w`` with trick 22), each image's run of a padded plane copied once,
    ``f_w`` times fewer rows than im2col.  The forward stacks the ``f_w`` filter columns, ``(f_w K,
    C f_h)``, multiplies once and adds the ``f_w`` products at their shifts, a block of images at a
    time (at most 3 MB of products, so the additions find them in cache: 1.14x faster than the
    whole batch at once on the shape below).  The backward builds ``f_w`` shifted copies of ``G``
    (trick 12's stack), and one GEMM of the shifted columns with that stack gives dF (a mid-sized
    dF: trick 19); the same stack gives dX.  It trades a copy of ``C f_h f_w`` rows for ``f_w K``
    rows of products, so it pays when ``K`` is small against ``C f_h``: measured on ten geometries,
    it won at ``K / (C f_h) <= 0.53``, tied at 0.67 and lost at 0.8 and above.  On ``(64, 8, 14,
    14)x(16, 8, 5, 5) p2`` (``K / (C f_h) = 0.4``) it makes the forward 1.28x (one thread) to 1.37x
    (two threads) faster and forward+backward 1.12-1.23x (``--ablation``, two runs each); later
    runs (one thread, two ablations and two in-process alternations, also of the commit that
    introduced it) put the forward at 1.11-1.40x and forward+backward level (0.99-1.02x): the
    backward's stack of shifted ``G`` costs about what the narrower columns save.  What is robust
    is the forward and the memory: a call's peak extra memory is 3.7 instead of 10.8 MB (the
    columns a layer keeps: 2.5 instead of 9.6 MB), while the scratch arrays kept between calls grow
    from 11.4 to 13.8 MB.  At ``K / (C f_h)`` about 0.67 (seven layers, one thread) it made the
    forward 0.92-1.42x as fast, forward+backward 0.89-1.18x and a dF-only backward 0.79-1.08x, so
    the limit stayed at 0.6 -- until trick 22 made the rows shorter: remeasured then on eight
    layers at ``K / (C f_h)`` from 0.67 to 0.90, shifted rows made the forward 0.94-1.31x and
    forward+backward 0.98-1.27x as fast (one and two threads), at 1.0, 1.11x and 1.01-1.04x, and
    from 1.33 on they lost (0.68-0.99x): the limit is now 0.85.  This moved ``(64, 32, 16, 16)x(64,
    32, 3, 3)`` (0.67) and lesson 09's second layer onto shifted rows.  An input with NaN or inf
    never gets it: a shifted row holds pixels that no window of some tap reads, and they would meet
    zeros of ``G`` in dF (``0 * NaN = NaN``).
14. **Phase planes for strided dX** (full rows whatever the stride).  The accumulator holds each
    padded plane as ``s_h s_w`` phase planes of ``ceil((W + 2p_w)/s_w)`` columns: padded pixel
    ``(y s_h + r_h, x s_w + r_w)`` is pixel ``(y, x)`` of plane ``(r_h, r_w)``.  Tap ``(i, j)`` adds
    into plane ``(i d_h mod s_h, j d_w mod s_w)`` at offset ``(i d_h // s_h, j d_w // s_w)`` with unit
    stride, so every tap's block is again one contiguous run per (channel, image).  On ``(64, 3,
    32, 32)x(16, 3, 5, 5) s2 p2`` the backward takes 5.3 instead of 6.05 ms (one thread; the
    ablation's layout-rule row, which also turns this off, 1.12-1.16x forward+backward).
15. **dX by GEMMs on shifted views of G** (stride 1, ``f_w > 1``, ``K <= 8``).  Trick 12 without
    its stack: ``f_w`` GEMMs, each reading ``G`` (zero-padded, flat) at its shift through a view,
    their products added.  Reading a few rows of ``G`` ``f_w`` times costs less than copying
    ``f_w K`` rows, and it works for one input channel, where trick 12 lost.  On ``(64, 1, 28,
    28)x(8, 1, 5, 5) p2`` dX takes 1.6-2.1 instead of 2.8 ms (one thread), forward+backward
    1.08-1.10x; with 16 filters it won on one shape of three, with 32 it lost.  Layers with
    trick 13's columns use its stack instead, which also gives dF (unless trick 19 does).
16. **Filters with NaN or inf** get dX from exact columns: full rows carry zeros of ``G`` that no
    window produced, and a NaN or inf tap times those zeros (``0 * NaN``) would reach pixels that
    tap never reads.  One ``sum`` over the (small) filters decides.
17. **Small ufunc buffers in the backward (and the forward).**  NumPy 2's ufunc iterator sets up buffers of
    ``np.getbufsize()`` (8192) elements per operand for an operation over non-contiguous views,
    even when nothing needs casting, and the backward's additions into the accumulator are all
    such operations: 64-96 KB allocated and freed again at every one.  The backward runs with
    256-element buffers (:func:`numpy.setbufsize`, NumPy's size restored on the way out, also
    after an error).  On the benchmark shapes a backward's peak extra memory above its results
    fell from 65-142 KB to 5-8 KB (together with the two filter-sized arrays of trick 13's
    backward, its filter matrix and its dF product, which now live in workspaces), and on ``(64,
    1, 28, 28)x(8, 1, 5, 5) p2``, whose dX adds the ``f_w`` products of trick 15 over strided
    views, the backward takes 1.10-1.11x less time (three measurements, one thread); on the
    other shapes it is level (0.98-1.04).  The convolution's forward has run with them too since
    trick 21, whose bias, a broadcast over ``(N, K, H' W')``, took 32 KB of buffers, and trick 13's
    shifted additions 64 KB: with them the forward allocates its results and a few KB; its time
    on the shifted-rows layer was level (2.53 vs 2.50 and 2.85 vs 2.72 ms, one thread).  Pooling
    keeps NumPy's size: there it was slower (0.77 vs 0.87 ms with 256 elements).
18. **A small dF in chunks of its inner dimension.**  ``dF = cols @ G^T`` has a tiny output (``C
    f_h f_w x K``, 72 numbers for lesson 09's first layer) and a long inner dimension (``N H' W'``,
    50,176 there), and one BLAS GEMM of that shape ran at about 8 GFLOP/s here (0.42 ms), with no
    gain from a second thread.  Cut into 512-column chunks, one batched ``matmul`` of ``T / 512``
    small GEMMs whose partial products are then summed (in a workspace), it took 0.09 ms, 4.7x
    less.  Measured on eleven shapes of that GEMM (one and two threads): 2.7-4.9x for up to 200
    entries, 1.2-3x for 864-1152, mixed at 1200 (0.97-1.45x) and 5-20 % slower from 1600 on, hence
    chunks only when ``C f_h f_w K <= 1152``.  Forward+backward: 1.20x (one thread) and 1.14x (two)
    on ``(64, 1, 28, 28)x(8, 1, 5, 5) p2``, 1.10x (one thread) on ``(64, 3, 32, 32)x(32, 3, 3, 3)
    p1``, 1.26x on lesson 09's first layer; a training epoch of lesson 09's network 1.06x (one
    thread) to 1.09x (two), alternating in one process.  The forward's and dX's GEMMs, whose
    outputs are large, gained from such chunks on one thread and lost on two: they stay whole.
19. **Trick 13's dF image by image on views of G** (``1152 < C f_h f_w K <= 3200``, runs
    ``L + e`` of 128 to 1200).  dF's GEMM
    with the shifted columns, ``(C f_h, N (L + e)) @ stack^T``, has the same long inner dimension
    as trick 18's; for a mid-sized dF, ``f_w`` batched ``matmul`` calls instead multiply image by
    image, ``(C f_h, L + e) @ (L + e, K)``, reading ``G`` at each shift through a strided view, and
    sum the ``N`` products.  A dF-only backward (a first layer) then builds no stack at all.  On
    four layers that take it, alternating in one process: forward+backward 1.02-1.11x and
    forward+dF 1.13-1.26x on one thread, level (0.99-1.00x) and 1.02-1.11x on two, where the
    stack's single GEMM uses both cores and the small ones do not.  Below 1152 entries trick 18's
    chunks of the stack's GEMM are as fast; from 4608 on (and at 12,800 on two threads) the
    views lost in the GEMM alone (0.6-0.9x).  The run length matters too: with ``L + e`` from
    144 to 1156 they won (forward+dF 1.03-1.28x, one thread), at 50 (``(256, 16, 6, 6)x(9, 16,
    3, 3)``, tiny GEMMs) and 3250 (``(8, 24, 56, 56)x(6, 24, 3, 3)``, a long inner dimension
    again) they lost (0.81-0.87x), hence the bounds 128 and 1200.  dX keeps the stack whenever
    the columns are shifted: trick 15's views of ``G`` instead lost there (0.81x on ``(64, 16,
    16, 16)x(8, 16, 3, 3) p1``).

20. **Parts of the batch on threads** (:mod:`cnnbook.batch_threads`): with ``T >= 2`` BLAS threads,
    OpenBLAS's idle threads asleep at once (``OPENBLAS_THREAD_TIMEOUT=4``) and at least 8.4 M
    multiply-adds, the ``N`` images are cut into ``min(T, cores, N // 2)`` parts that run at once
    on as many threads, OpenBLAS set to one thread meanwhile: every copy and addition gets a core
    per part, where before only the GEMMs had more than one.  The forward's parts write into slices
    of one ``cols`` and ``S`` (a part's columns are a run of consecutive columns in every layout),
    the backward's into slices of one ``dX``; each part's ``dF`` lands in its thread's workspace,
    and the parts' ``dF`` and ``db`` are added up before another call may use the helper threads.
    (A backward given no ``cols`` builds them in one piece first; filters with NaN or inf get
    ``dX`` in one piece after the parts, trick 16.)  Two cores, float32 (``conv_speed.py
    --ablation``, five runs): forward+backward 1.10-1.48x faster on the five shapes, the forward
    0.97-1.72x (the forward of ``(64, 8, 14, 14)x(16, 8, 5, 5)`` gains least, 0.97-1.13x).  With
    two threads the GEMM-floor ratio of ``(64, 32, 16, 16)x(64, 32, 3, 3)`` went from 1.42-1.93 to
    1.31-1.36 with tricks 21 and 22 and to 1.21-1.34 with trick 13's limit raised (three and six
    runs; the floor now counting no page faults of its outputs, which lowers it); that of ``(64, 8,
    14, 14)x(16, 8, 5, 5)`` to 1.53-1.82 with this trick alone and to 1.42-1.56 with trick 22
    (1.46-1.59 in the last six runs): the two parts slow each other down (two at once took 1.25-1.6x
    the time of one alone in four measurements, two processes doing the same halves 1.0-1.2x: the
    rest is the threads' turns at the interpreter lock and the hand-off, some 0.07 ms a call; a
    GEMM gained 1.44x from its second thread), and its shifted rows
    still do 1.16x the floor's multiply-adds (1.31x before trick 22).  Without the timeout the
    parts share a core with OpenBLAS's spinning worker and came out 1.2-1.6x *slower* (trick 11),
    hence the rule.  Of lesson 09's layers, the first (3.6 M multiply-adds; 9 % slower in parts)
    stays whole, and the second (14 M) gained 11-13 %.

21. **The forward image by image** (exact columns, ``C f_h f_w <= 300``, a BLAS running the call on
    one thread): ``S[n] = F_mat @ cols[:, image n]``, ``(K, C f_h f_w) @ (C f_h f_w, H' W')``, one
    batched ``matmul`` writing straight into ``S (N, K, H', W')``, whose image ``n`` *is* that
    ``(K, H' W')`` block: no GEMM-output workspace, no reorder, and the bias added to ``S``.  Small
    GEMMs run faster here than one long one (as in trick 18): on fifteen forwards of exact-column
    layers (one thread, CPU time, alternating with a copy that flushes the caches, as the other
    layers of a network do) 1.01-1.27x faster, except at ``C f_h f_w = 576`` (0.95x), hence the
    bound.  On ``(64, 1, 28, 28)x(8, 1, 5, 5) p2`` alone it took 0.69 instead of 1.15 ms; in
    ``conv_speed.py --ablation --cpu`` (one thread, two runs) the forward 1.00-1.58x on the four
    benchmark layers it touched then (three since trick 22 moved one onto shifted rows),
    forward+backward 0.97-1.23x, and inside trick 20's parts (two threads) the forward
    1.00-1.31x.  With a two-thread BLAS and no parts, the small GEMMs leave the second core idle:
    0.80-1.07x, so the rule asks :func:`cnnbook.batch_threads.blas_threads` for one thread (true
    inside trick 20's parts).

22. **Shifted rows share the padding between rows** (trick 13's layers, ``0 < p_w <= e <= W +
    p_w`` with ``e = d_w (f_w - 1)``).  A full row used to hold ``p_w`` zeros, the ``W`` pixels and
    ``p_w`` zeros again; the shifted reads of an output row ``x < W'`` reach at most ``W' - 1 + e =
    W + 2p_w - 1`` columns from the row's start, so with rows of ``W + p_w`` elements (``p_w``
    zeros, then the pixels) the reads past a row's pixels land on the next row's leading zeros,
    which are the same zeros.  Rows are ``W + p_w`` instead of ``W + 2p_w`` long, and everything
    built on them shrinks with them: the columns, the forward's products, ``G`` on full rows, its
    stack, dX's GEMM and accumulator.  On ``(64, 8, 14, 14)x(16, 8, 5, 5) p2`` (rows of 16 instead of
    18) forward+backward 1.17-1.21x faster (one and two threads, four alternations; the ablation:
    1.19x and 1.23x, the forward 1.20x and 1.26x).  Layers
    without shifted columns keep rows of ``W + 2p_w`` for their dX (tricks 12 and 15): shared rows
    were level there on ``(64, 32, 16, 16)x(64, 32, 3, 3)`` (1.02-1.03x, while it still had exact
    columns) and slower on ``(64, 1, 28, 28)x(8, 1, 5, 5)`` (0.94-0.97x; rows of 30 floats instead
    of 32).  With the shorter rows, trick 13's limit went from 0.6 to 0.85.
23. **ReLU against an array of zeros** (:func:`relu`).  NumPy 2.4 runs ``np.maximum(x, 0)`` -- an
    array and a scalar -- in a loop without SIMD, 2.6x slower than ``np.maximum(x, zeros)`` with an
    array of zeros of ``x``'s shape (float32, 401,408 numbers, the output of lesson 09's first
    layer: 0.150 -> 0.058 ms; the comparison ``x > 0`` and the products of the backward have no
    such gap).  The zeros are one read-only array per size, never written, so its pages stay the
    kernel's shared page of zeros.  On lesson 09's training, 8-14 ms of CPU time less per epoch (one
    thread, two runs of eight alternating epochs; about 2-3 %).  Since trick 24 the ReLUs of that
    network run on the pooled arrays, a quarter of the size, and turning this switch off changed an
    epoch by less than the noise (0.98x, one run of ``benchmarks/train_speed.py --ablation``).
    Switch: ``relu_zeros``.
24. **Max pooling before ReLU** (:func:`running_order`, the order in which
    :class:`cnnbook.models.Sequential` runs its layers in a training step and in inference; its
    ``forward`` in training mode keeps the written order, for stepping through the layers' backward
    passes by hand). ReLU is monotone, so ``max(relu(a), relu(b)) = relu(max(a, b))``: a
    :class:`~cnnbook.layers.ReLU` followed by a :class:`~cnnbook.layers.MaxPool2D` gives the same
    output when the pooling runs first and the ReLU on its output, a quarter of the size for 2x2
    windows. The gradients are the same numbers too: where a window's maximum is positive both
    orders route ``G`` to the same first winner (ReLU leaves positive values alone and maps the
    others to 0, below them); where it is not, both send zero (``Ind(x > 0)`` is 0 there) -- a zero
    that is ``-0.0`` when ``G`` is negative (and NaN when ``G`` is infinite or NaN: training has
    diverged then), at the window's first cell in one order and at its largest input in the other,
    so ``dL/dX`` of a network that *starts* with the pair may differ in the sign of a zero; a layer
    before the pair adds it to other numbers, and the parameters' gradients come out identical bit
    for bit (``tests/test_running_order.py``). Only strided poolings swap, which shrink the array.
    Every pooling window holds at least one real pixel (``padding`` is smaller than the window), so
    the ``-inf`` padding never wins a window that a real pixel could. On lesson 09's network (two
    such pairs) an epoch took 27-44 ms less, 6-12 %: 0.34-0.39 s instead of 0.38-0.41 s (switch off
    / on 1.06-1.13x; four runs of eight alternating epochs, two on one thread, two on two, and one
    run of ``benchmarks/train_speed.py --ablation``, which measures it: 0.41 against 0.39 s).
    :meth:`cnnbook.models.Sequential.activations` keeps the written order: it shows every layer's
    output. Switch: ``pool_before_relu``.

``benchmarks/conv_speed.py --ablation`` times the layer shapes with each of tricks 1 (the choice
of layout, with 14), 8, 9, 10, 12, 13, 15 and 17 to 22 turned off (:func:`tricks_off`);
``tests/test_fast_branches.py`` runs every switch of the convolution and reaches every branch;
``tests/test_fast.py`` holds :func:`relu` to the core with its switch on and off.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache, wraps
from typing import Literal, NamedTuple, ParamSpec, TypeVar, overload

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import batch_threads
from . import functional as fn
from ._checks import (
    IntPair,
    as_batch,
    as_bias,
    as_filters,
    as_flag,
    as_float_array,
    as_indices,
    as_pair,
    as_upstream,
)
from .im2col import Geometry
from .pool import pool_geometry

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")
_Part = TypeVar("_Part")

__all__ = [
    "Branches",
    "avgpool2d",
    "avgpool2d_backward",
    "conv2d",
    "conv2d_backward",
    "layouts",
    "maxpool2d",
    "maxpool2d_backward",
    "relu",
    "running_order",
    "tricks_off",
]


# --------------------------------------------------------------------------------------------
# Remembered geometries (trick 6): validate, then look up by normalized ints.
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _conv_geometry_of(
    X_shape: tuple[int, ...],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> Geometry:
    return Geometry.of(X_shape, kernel_size, stride, padding, dilation)


def _conv_geometry(
    X_shape: tuple[int, ...], kernel_size: IntPair, stride: IntPair, padding: IntPair, dilation: IntPair
) -> Geometry:
    """:meth:`Geometry.of`, remembered.  Only validated ``(h, w)`` int pairs reach the cache key."""
    return _conv_geometry_of(
        tuple(X_shape),
        as_pair(kernel_size, "kernel_size", 1),
        as_pair(stride, "stride", 1),
        as_pair(padding, "padding", 0),
        as_pair(dilation, "dilation", 1),
    )


@lru_cache(maxsize=512)
def _pool_geometry_of(
    X_shape: tuple[int, ...], kernel_size: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> Geometry:
    return pool_geometry(X_shape, kernel_size, stride, padding)


def _pool_geometry(
    X_shape: tuple[int, ...], kernel_size: IntPair, stride: IntPair | None, padding: IntPair
) -> Geometry:
    """:func:`cnnbook.pool.pool_geometry`, remembered (validated int pairs as the key)."""
    size = as_pair(kernel_size, "kernel_size", 1)
    steps = size if stride is None else as_pair(stride, "stride", 1)
    return _pool_geometry_of(tuple(X_shape), size, steps, as_pair(padding, "padding", 0))


# --------------------------------------------------------------------------------------------
# Column layouts: the exact im2col layout (with any padding value) and the full-row layout.
# --------------------------------------------------------------------------------------------


def _channel_major_padded(X: np.ndarray, g: Geometry, pad_value: float) -> np.ndarray:
    """``X (N, C, H, W)`` padded and reordered to ``(C, N, H + 2p_h, W + 2p_w)`` in one pass."""
    Xt = np.empty((g.C, g.N, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=X.dtype)
    if g.ph or g.pw:
        Xt.fill(pad_value)
    Xt[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W] = X.transpose(1, 0, 2, 3)
    return Xt


def _im2col(X: np.ndarray, g: Geometry, pad_value: float = 0.0) -> np.ndarray:
    """``im2col`` of a validated ``(N, C, H, W)`` array, padding filled with ``pad_value``."""
    Xt = _channel_major_padded(X, g, pad_value)
    cols = np.empty((g.C, g.fh, g.fw, g.N, g.Ho, g.Wo), dtype=X.dtype)
    for i in range(g.fh):
        for j in range(g.fw):
            rows, columns = g.tap_slices(i, j)
            cols[:, i, j] = Xt[:, :, rows, columns]
    return cols.reshape(g.cols_shape)


def _col2im(cols: np.ndarray, g: Geometry) -> np.ndarray:
    """Adjoint of :func:`_im2col` (``cols`` of the exact layout) as an ``(N, C, H, W)`` array."""
    acc = np.zeros((g.C, g.N, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=cols.dtype)
    blocks = cols.reshape(g.C, g.fh, g.fw, g.N, g.Ho, g.Wo)
    for i in range(g.fh):
        for j in range(g.fw):
            rows, columns = g.tap_slices(i, j)
            acc[:, :, rows, columns] += blocks[:, i, j]
    inner = acc[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W]
    return np.ascontiguousarray(inner.transpose(1, 0, 2, 3))


# --------------------------------------------------------------------------------------------
# Switches for the ablation benchmark and the tests: every trick on is what the layers use.
# --------------------------------------------------------------------------------------------

_TRICKS: dict[str, bool] = {
    "one_copy": True,  # columns by one copy of a 6-D strided view (off: fh*fw tap copies)
    "layout_choice": True,  # exact columns, full-row dX for short rows (off: full rows whenever s_w = 1)
    "workspaces": True,  # scratch arrays reused per shape (off: fresh each call)
    "blocked_dx": True,  # dX a block of images at a time (off: all images at once)
    "dx_row_gemm": True,  # dX's horizontal taps inside the GEMM (off: fh*fw tap additions)
    "shifted_columns": True,  # stride 1, K <= 0.85 C fh: (C fh)-row columns (off: C fh fw rows)
    "dx_shifted_views": True,  # dX, K <= 8: f_w GEMMs on shifted views of G (off: trick 12 or additions)
    "small_buffers": True,  # ufunc buffers of 256 elements in conv2d and its backward (off: NumPy's, 8192)
    "chunked_df": True,  # dF as a sum of GEMMs over 512-column chunks when C fh fw K <= 1152 (off: one GEMM)
    "df_views": True,  # shifted rows, C fh fw K <= 3200: dF image by image on views of G (off: the stack)
    "batch_threads": True,  # parts of the batch on threads where cnnbook.batch_threads allows (off: one)
    "shared_padding": True,  # full rows of W + p_w, the padding between two rows shared (off: W + 2p_w)
    "image_gemms": True,  # exact columns, one-thread BLAS: the forward image by image into S (off: one GEMM)
    "relu_zeros": True,  # ReLU as max(x, an array of zeros) (off: max(x, 0), a slower loop in NumPy)
    "pool_before_relu": True,  # Sequential runs ReLU -> max pooling as pooling -> ReLU (off: as written)
}
_MAX_WORKSPACES = 48  # a training run with validation uses about 34 (lesson 09)
_THREAD = threading.local()  # each thread's workspaces (trick 20 runs parts of a batch at once)
_FULL_ROW_MAX_WIDENING = 1.0  # full-row columns only when (W + 2p_w)/W' is at most this (trick 1)
_DX_FULL_ROW_MAX_WIDTH = 20  # dX on full rows when W' is at most this (trick 1)
_DX_BLOCK_BYTES = 8 << 20  # target size of one block of dX's columns (measured, see trick 10)
_SHIFTED_MAX_FILTERS = 0.85  # shifted columns when K <= this * C fh (measured, see tricks 13 and 22)
_DX_VIEWS_MAX_FILTERS = 8  # dX by GEMMs on shifted views of G when K <= this (measured, see trick 15)
_SHIFTED_BLOCK_BYTES = 3 << 20  # products of the shifted forward made and added this much at a time
_SKEW = 16  # extra elements per row of the GEMM output (64 bytes in float32), against cache-set aliasing
_UFUNC_BUFFER = 256  # elements per ufunc buffer in conv2d and its backward (trick 17)
_DF_CHUNK = 512  # columns per GEMM of a chunked dF (trick 18)
_CHUNKED_DF_MAX = 1152  # chunked dF when dF has at most this many entries, C fh fw K (trick 18)
_DF_VIEWS_MAX = 3200  # shifted rows: dF on views of G when dF has at most this many entries (trick 19)
_DF_VIEWS_RUNS = (128, 1200)  # ... and each image's run L + e is this long (trick 19)
_IMAGE_GEMMS_MAX_ROWS = 300  # the forward image by image when C fh fw is at most this (trick 21)


def _workspace(name: str, shape: tuple[int, ...], dtype: np.dtype, fill: float | None = None) -> np.ndarray:
    """A scratch array shared by every call that asks for the same ``(name, shape, dtype)`` (trick 9).

    ``fill`` is written once, when the array is made: callers that never write some cells (the
    padding of the padded input, the extra columns of G) find them still filled on later calls,
    provided ``name`` tells apart every geometry that writes a different set of cells.  A
    workspace is dead when its call returns: nothing returned to a caller may alias one.
    """
    if not _TRICKS["workspaces"]:
        fresh = np.empty(shape, dtype=dtype)
        if fill is not None:
            fresh.fill(fill)
        return fresh
    key = (name, shape, np.dtype(dtype).str)
    workspaces = _workspaces()
    array = workspaces.pop(key, None)
    if array is None:
        array = np.empty(shape, dtype=dtype)
        if fill is not None:
            array.fill(fill)
        while len(workspaces) >= _MAX_WORKSPACES:
            workspaces.popitem(last=False)
    workspaces[key] = array  # most recently used last
    return array


def _workspaces() -> OrderedDict[tuple[str, tuple[int, ...], str], np.ndarray]:
    """This thread's workspaces by ``(name, shape, dtype)``, least recently used first."""
    if not hasattr(_THREAD, "workspaces"):
        _THREAD.workspaces = OrderedDict()
    workspaces: OrderedDict[tuple[str, tuple[int, ...], str], np.ndarray] = _THREAD.workspaces
    return workspaces


def _with_small_buffers(function: Callable[_Params, _Result]) -> Callable[_Params, _Result]:
    """``function`` run with ufunc buffers of ``_UFUNC_BUFFER`` elements (trick 17); NumPy's size
    is restored on the way out, also after an error."""

    @wraps(function)
    def wrapper(*args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        if not _TRICKS["small_buffers"]:
            return function(*args, **kwargs)
        saved = np.setbufsize(_UFUNC_BUFFER)
        try:
            return function(*args, **kwargs)
        finally:
            np.setbufsize(saved)

    return wrapper


def _full_rows(g: Geometry) -> bool:
    """Whether the columns use the full-row layout (trick 1): ``s_w = 1`` and no wasted column."""
    if g.sw != 1:
        return False
    return not _TRICKS["layout_choice"] or g.W + 2 * g.pw <= _FULL_ROW_MAX_WIDENING * g.Wo


def _dx_views(g: Geometry, K: int) -> bool:
    """Whether dX takes its horizontal taps by ``f_w`` GEMMs on shifted views of ``G`` (trick 15):
    stride 1, ``f_w > 1``, ``K <= 8`` (few rows of ``G`` to read ``f_w`` times, no stack to copy)."""
    return _TRICKS["dx_shifted_views"] and g.sh == g.sw == 1 and g.fw > 1 and K <= _DX_VIEWS_MAX_FILTERS


def _dx_full_rows(g: Geometry, cols_full: bool, K: int) -> bool:
    """Whether dX uses full rows (trick 1, and trick 14 for strides): short output rows, full-row
    columns (whose ``G`` matrix it then shares), or trick 15.  With ``layout_choice`` off: ``s_w = 1``."""
    if not _TRICKS["layout_choice"]:
        return g.sw == 1
    return cols_full or g.Wo <= _DX_FULL_ROW_MAX_WIDTH or _dx_views(g, K)


def _width(g: Geometry, full: bool) -> int:
    """Columns per output row: ``ceil((W + 2p_w) / s_w)`` (full rows) or ``W'`` (the exact im2col layout)."""
    return -(-(g.W + 2 * g.pw) // g.sw) if full else g.Wo


def _tap_view(buffer: np.ndarray, g: Geometry, full: bool) -> np.ndarray:
    """All taps' blocks of a padded ``(C', N', H + 2p_h (+1), W + 2p_w)`` array: ``(C', fh, fw, N', H', Wq)``.

    Element ``[c, i, j, n, y, x]`` is padded pixel ``(y s_h + i d_h, x s + j d_w)`` of plane
    ``(c, n)``, with ``s = s_w`` (exact layout) or ``s = 1`` and ``x`` running over the whole padded
    row (full rows: ``x >= W'`` spills into the next row, hence the one extra row of the buffer).
    """
    sC, sN, sH, sE = buffer.strides
    step = 1 if full else g.sw
    return as_strided(
        buffer,
        shape=(buffer.shape[0], g.fh, g.fw, buffer.shape[1], g.Ho, _width(g, full)),
        strides=(sC, g.dh * sH, g.dw * sE, sN, g.sh * sH, step * sE),
        writeable=True,
    )


def _padded_shape(g: Geometry, full: bool, n: int, row: int | None = None) -> tuple[int, int, int, int]:
    """``(C, n, H + 2p_h (+1), row)``: one extra row for full rows (their last run reaches past it);
    ``row`` elements per row, ``W + 2p_w`` unless given (:func:`_row`)."""
    return (g.C, n, g.H + 2 * g.ph + int(full), g.W + 2 * g.pw if row is None else row)


def _all_finite(X: np.ndarray) -> bool:
    """Whether ``X`` holds no NaN or inf, by one sum (which is also inf, harmlessly, on overflow)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(X.sum()))


def _padded_input(
    X: np.ndarray, g: Geometry, full: bool, dtype: np.dtype, row: int | None = None
) -> np.ndarray:
    """``X`` padded and reordered channel-major in one pass (trick 2), in a workspace (trick 9):
    ``(C, N, H + 2p_h (+1), row)``, the image at column ``p_w`` of each row (``row``: ``W + 2p_w``
    unless given; ``W + p_w`` shares the padding between rows, trick 22), the border zero from call
    to call."""
    # The name records where the image sits (p_h, p_w, W; the shape has the row length): another
    # geometry with the same padded shape may not share the buffer (it would write over this one's
    # zero border -- rows of W + p_w and of W' + 2p_w with W' = W - p_w have the same length).
    shape = _padded_shape(g, full, g.N, row)
    padded = _workspace(f"padded {g.ph} {g.pw} {g.W} {full}", shape, dtype, fill=0.0)
    padded[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W] = X.transpose(1, 0, 2, 3)
    return padded


def _columns(
    X: np.ndarray, g: Geometry, full: bool, dtype: np.dtype, out: np.ndarray | None = None
) -> np.ndarray:
    """im2col in the working layout, ``(C fh fw, N H' Wq)``: a fresh array (the caller may keep it),
    or written into ``out`` of that shape (columns of a larger array, trick 20).

    The input is padded and reordered channel-major in one pass (trick 2) into a workspace whose
    padding stays zero from call to call, then every tap's block is copied by one strided copy
    (trick 8) or, with that trick off, one copy per tap.
    """
    taps = _tap_view(_padded_input(X, g, full, dtype), g, full)
    cols: np.ndarray = np.empty(taps.shape, dtype=dtype) if out is None else out.reshape(taps.shape)
    if _TRICKS["one_copy"]:
        np.copyto(cols, taps)
    else:
        for i in range(g.fh):
            for j in range(g.fw):
                cols[:, i, j] = taps[:, i, j]
    # The extra columns of full rows hold pixels no window reads.  They meet zeros of G in
    # dF = cols @ G^T, which adds nothing unless a pixel is NaN or inf (0 * NaN = NaN): zero them
    # then.  The sum is NaN or inf whenever X holds one (and, harmlessly, when it overflows).
    if full and g.Wo < cols.shape[-1] and not _all_finite(X):
        cols[..., g.Wo :] = 0
    return cols.reshape(g.C * g.fh * g.fw, -1)


def _shifted(g: Geometry, K: int) -> bool:
    """Whether the columns may be row-shifted (trick 13): stride 1, ``f_w > 1``, ``K <= 0.85 C f_h``."""
    return (
        _TRICKS["shifted_columns"]
        and g.sh == g.sw == 1
        and g.fw > 1
        and _SHIFTED_MAX_FILTERS * g.C * g.fh >= K
    )


def _row(g: Geometry, shifted: bool) -> int:
    """Elements per padded row in the full-row layouts of tricks 12, 13 and 15 (stride 1): with
    row-shifted columns (``shifted``, trick 13), ``W + p_w`` where the padding between two rows can
    be shared (trick 22: ``0 < p_w <= e <= W + p_w``, ``e = d_w (f_w - 1)``); else ``W + 2p_w``."""
    e = g.dw * (g.fw - 1)
    if shifted and _TRICKS["shared_padding"] and 0 < g.pw <= e <= g.W + g.pw:
        return g.W + g.pw
    return g.W + 2 * g.pw


def _shifted_run(g: Geometry) -> int:
    """``L + e = H' row + d_w (f_w - 1)``: one image's run in a shifted-columns row (trick 13), ``row``
    from :func:`_row`."""
    return g.Ho * _row(g, True) + g.dw * (g.fw - 1)


def _shifted_shape(g: Geometry) -> tuple[int, int]:
    """``(C f_h, N (L + e))``: the row-shifted columns (trick 13), runs of :func:`_shifted_run`."""
    return g.C * g.fh, g.N * _shifted_run(g)


def _shifted_columns(
    X: np.ndarray, g: Geometry, dtype: np.dtype, out: np.ndarray | None = None
) -> np.ndarray:
    """The row-shifted columns (trick 13) of a validated ``(N, C, H, W)`` array, stride 1: a fresh
    array, or written into ``out`` of that shape (columns of a larger array, trick 20).

    Row ``(c, i)``, image ``n``: the padded plane ``(c, n)`` read row-major from row ``i d_h``, a
    run of ``L + e`` values (``L = H' row``, ``row`` from :func:`_row`, ``e = d_w (f_w - 1)``).
    The im2col column of tap ``(c, i, j)`` at full-row position ``l`` is then entry ``l + j d_w``
    of that run, so the ``f_w`` taps of a filter row are shifted windows of one row here instead
    of ``f_w`` rows.
    """
    padded = _padded_input(X, g, True, dtype, _row(g, True))
    sC, sN, sH, sE = padded.strides
    run = _shifted_run(g)
    shape = (g.C, g.fh, g.N, run)
    Z = np.empty(shape, dtype=dtype) if out is None else out.reshape(shape)
    np.copyto(Z, as_strided(padded, (g.C, g.fh, g.N, run), (sC, g.dh * sH, sN, sE), writeable=False))
    return Z.reshape(_shifted_shape(g))


def _shifted_forward(Z: np.ndarray, F: np.ndarray, b: np.ndarray | None, g: Geometry, S: np.ndarray) -> None:
    """``S (N, K, H', W')``, written, from row-shifted columns: one GEMM, then ``f_w`` shifted
    additions (trick 13).

    ``[F_:,:,:,0; ...; F_:,:,:,fw-1] (f_w K, C f_h) @ Z`` gives every horizontal tap's product for
    every run position; output ``l`` sums product ``j`` at ``l + j d_w``.  A block of images at a
    time (at most ``_SHIFTED_BLOCK_BYTES`` of products), so the additions find the products in cache.
    """
    K, C, fh, fw = F.shape
    row = _row(g, True)
    L, e = g.Ho * row, g.dw * (fw - 1)
    A = _workspace("shifted filters", (fw * K, C * fh), Z.dtype)  # [(j, k), (c, i)]
    np.copyto(A.reshape(fw, K, C, fh), F.transpose(3, 0, 1, 2))
    runs = Z.reshape(C * fh, g.N, L + e)
    block = max(1, min(g.N, _SHIFTED_BLOCK_BYTES // (fw * K * (L + e) * Z.dtype.itemsize)))
    products = _workspace("shifted products", (fw * K * block * (L + e),), Z.dtype)
    total = _workspace("shifted sum", (K, g.N, L), Z.dtype)
    for n0 in range(0, g.N, block):
        n = min(block, g.N - n0)
        out = products[: fw * K * n * (L + e)].reshape(fw * K, n * (L + e))
        np.matmul(A, runs[:, n0 : n0 + n].reshape(C * fh, -1), out=out)
        taps = out.reshape(fw, K, n, L + e)
        part = total[:, n0 : n0 + n]
        if b is None:
            np.copyto(part, taps[0, :, :, :L])
        else:
            np.add(taps[0, :, :, :L], b[:, None, None], out=part)
        for j in range(1, fw):
            np.add(part, taps[j, :, :, j * g.dw : j * g.dw + L], out=part)
    np.copyto(S, total.reshape(K, g.N, g.Ho, row)[..., : g.Wo].transpose(1, 0, 2, 3))


def _chunked_df(entries: int, inner: int) -> bool:
    """Whether a dF of ``entries`` numbers over an inner dimension ``inner`` is chunked (trick 18)."""
    return _TRICKS["chunked_df"] and entries <= _CHUNKED_DF_MAX and inner // _DF_CHUNK >= 2


def _filter_gradient(cols: np.ndarray, G_cols: np.ndarray) -> np.ndarray:
    """``cols @ G_cols^T``, ``(C fh fw, K)``, over the long inner dimension ``N H' Wq`` (trick 18).

    ``cols (C fh fw, T)``, ``G_cols (K, T)``.  When dF is small (``C fh fw K <= 1152``) the inner
    dimension is cut into chunks of 512 columns, one GEMM per chunk (one batched ``matmul``), and
    the ``T / 512`` partial products are summed; the rest of ``T`` after the last whole chunk is
    one more GEMM.  The result is a workspace.
    """
    R, T = cols.shape
    K = G_cols.shape[0]
    chunks = T // _DF_CHUNK
    unit = all(a.strides[1] == a.itemsize for a in (cols, G_cols))  # rows cut into chunks as views
    total = _workspace("dF", (R, K), cols.dtype)
    if not (_chunked_df(R * K, T) and unit):
        return np.matmul(cols, G_cols.T, out=total)
    whole = chunks * _DF_CHUNK
    parts = _workspace("dF chunks", (chunks, R, K), cols.dtype)
    np.matmul(
        cols[:, :whole].reshape(R, chunks, _DF_CHUNK).transpose(1, 0, 2),
        G_cols[:, :whole].reshape(K, chunks, _DF_CHUNK).transpose(1, 2, 0),
        out=parts,
    )
    parts.sum(axis=0, out=total)
    if whole < T:
        total += cols[:, whole:] @ G_cols[:, whole:].T
    return total


def _upstream_matrix(G4: np.ndarray, g: Geometry, full: bool) -> np.ndarray:
    """``(N, K, H', W')`` -> ``(K, N H' Wq)`` in a workspace: one row per filter, extra columns zero."""
    N, K = G4.shape[:2]
    Wq = _width(g, full)
    # extra columns stay zero; W' in the name: a geometry whose W' is this Wq may not share the buffer
    G_mat = _workspace(f"upstream {g.Wo}", (K, N, g.Ho, Wq), G4.dtype, fill=0.0)
    G_mat[..., : g.Wo] = G4.transpose(1, 0, 2, 3)
    return G_mat.reshape(K, -1)


def _input_gradient(
    A: np.ndarray, G_mat: np.ndarray, g: Geometry, full: bool, out: np.ndarray | None = None
) -> np.ndarray:
    """``dX (N, C, H, W)`` = col2im(``A^T G_mat``), a block of images at a time (trick 10).

    ``A (K, C fh fw)`` the filters, ``G_mat (K, N H' Wq)`` from :func:`_upstream_matrix`.  Each
    block's columns are made by one GEMM and added, tap by tap, into a padded accumulator; then
    the block's inner pixels are copied out to ``dX``.  Full rows (trick 14): the accumulator holds
    each padded plane as ``s_h s_w`` phase planes of ``ceil((H + 2p_h)/s_h) + 1`` rows of ``Wq =
    ceil((W + 2p_w)/s_w)`` pixels; padded pixel ``(y s_h + r_h, x s_w + r_w)`` is pixel ``(y, x)`` of
    phase plane ``(r_h, r_w)``, so every tap's block, ``H'`` rows of ``Wq``, is *one contiguous run*
    per (channel, image), whatever the stride (for stride 1: the padded plane and one extra row).
    ``out``: an array for dX (images of a larger one, trick 20), or None for a fresh one.
    """
    K, rows = A.shape
    Wq = _width(g, full)
    L = g.Ho * Wq
    dtype = G_mat.dtype
    block = g.N
    if _TRICKS["blocked_dx"]:
        block = max(1, min(g.N, _DX_BLOCK_BYTES // (rows * L * dtype.itemsize)))
    dcols_space = _workspace("dcols", (rows * block * L,), dtype)
    Hq = -(-(g.H + 2 * g.ph) // g.sh) + 1
    phases = (g.sh, g.sw, Hq, Wq) if full else (g.H + 2 * g.ph, g.W + 2 * g.pw)
    acc_space = _workspace("accumulator", (g.C * block * int(np.prod(phases)),), dtype)
    G3 = G_mat.reshape(K, g.N, L)
    dX = np.empty((g.N, g.C, g.H, g.W), dtype=dtype) if out is None else out
    for n0 in range(0, g.N, block):
        n = min(block, g.N - n0)
        dcols = dcols_space[: rows * n * L].reshape(rows, n * L)
        np.matmul(A.T, G3[:, n0 : n0 + n].reshape(K, n * L), out=dcols)
        acc = acc_space[: g.C * n * int(np.prod(phases))].reshape(g.C, n, *phases)
        acc.fill(0)
        add_taps = _add_taps_in_phase_planes if full else _add_taps_in_padded_planes
        add_taps(acc, dcols, g, dX[n0 : n0 + n])
    return dX


def _add_taps_in_phase_planes(acc: np.ndarray, dcols: np.ndarray, g: Geometry, dX: np.ndarray) -> None:
    """col2im on full rows (trick 14): each tap's block, one run per (channel, image), added into
    its phase plane of ``acc (C, n, s_h, s_w, Hq, Wq)``; then the phase planes' inner pixels into
    ``dX (n, C, H, W)``."""
    C, n, _, _, Hq, Wq = acc.shape
    L = g.Ho * Wq
    blocks = dcols.reshape(C, g.fh, g.fw, n, L)
    for i in range(g.fh):
        qh, rh = divmod(i * g.dh, g.sh)
        for j in range(g.fw):
            qw, rw = divmod(j * g.dw, g.sw)
            start = qh * Wq + qw
            plane = acc[:, :, rh, rw].reshape(C, n, Hq * Wq)
            plane[:, :, start : start + L] += blocks[:, i, j]
    for rh in range(g.sh):  # the inner pixels of each phase plane, back to (N, C, H, W)
        y0 = (rh - g.ph) % g.sh
        a0 = (y0 + g.ph) // g.sh
        for rw in range(g.sw):
            x0 = (rw - g.pw) % g.sw
            b0 = (x0 + g.pw) // g.sw
            target = dX[:, :, y0 :: g.sh, x0 :: g.sw]
            h, w = target.shape[2:]
            target[...] = acc[:, :, rh, rw, a0 : a0 + h, b0 : b0 + w].transpose(1, 0, 2, 3)


def _add_taps_in_padded_planes(acc: np.ndarray, dcols: np.ndarray, g: Geometry, dX: np.ndarray) -> None:
    """col2im on exact columns: tap by tap into the padded planes ``acc (C, n, H + 2p_h, W + 2p_w)``,
    then their inner pixels into ``dX (n, C, H, W)``."""
    taps = _tap_view(acc, g, False)
    blocks = dcols.reshape(taps.shape)
    for i in range(g.fh):
        for j in range(g.fw):
            taps[:, i, j] += blocks[:, i, j]
    dX[...] = acc[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W].transpose(1, 0, 2, 3)


def _dx_row_gemm(g: Geometry, full: bool, K: int) -> bool:
    """Whether dX folds its horizontal taps into the GEMM (trick 12, or 15): full rows, stride 1, and
    ``C > 1`` (one stack of shifted ``G``) or ``K <= 8`` (shifted views of ``G``)."""
    if not full or g.sh != 1 or g.sw != 1:
        return False
    return (_TRICKS["dx_row_gemm"] and g.C > 1) or _dx_views(g, K)


def _row_stack_backward(
    F: np.ndarray,
    G4: np.ndarray,
    g: Geometry,
    Z: np.ndarray | None,
    input_grad: bool,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(dX, dF)`` from ``f_w`` shifted copies of ``G`` (tricks 12 and 13); ``s_h = 1``, full rows.

    On full rows (run length ``L = H' row`` per image, ``row`` from :func:`_row`) tap ``(i, j)`` of
    the col2im adds ``F_ij^T G`` at flat offset ``i d_h row + j d_w``.  Shifting ``G`` instead of the
    product, ``sum_j shift_j(F_ij^T G) = [F_i,fw-1^T ... F_i0^T] @ [G shifted by 0, d_w, ...]``:
    the ``f_w`` shifted copies of ``G`` (zero-padded by ``e = d_w(f_w - 1)`` at both ends) are
    stacked into ``(f_w K, N (L + e))``, one GEMM gives ``(f_h C, N (L + e))``, and only ``f_h``
    additions remain (trick 12).  With row-shifted columns ``Z`` (trick 13, ``s_w = 1`` too) the
    same stack gives ``dF``: ``Z @ stack^T`` is ``(C f_h, f_w K)``, copy ``f_w - 1 - j`` pairing
    tap ``j`` (a mid-sized dF comes from views of ``G`` instead, trick 19).  ``F (K, C, fh, fw)``,
    ``G4 (N, K, H', W')``.  A block of images at a time (trick 10).  ``dX`` is None unless
    ``input_grad`` (written into ``out`` when given, trick 20).  The second result is ``D (C f_h,
    f_w K)``, dF in the stack's order (a workspace; :func:`_row_stack_filters` makes dF of it), or
    None without ``Z``.
    """
    K, C, fh, fw = F.shape
    row = _row(g, Z is not None)  # rows that share their padding only with shifted columns (trick 22)
    L, e = g.Ho * row, g.dw * (fw - 1)
    dtype = G4.dtype
    block = g.N
    if _TRICKS["blocked_dx"]:
        block = max(1, min(g.N, _DX_BLOCK_BYTES // (fw * K * (L + e) * dtype.itemsize)))
    # G (N, K, H', W') straight into full rows between zero margins; the margins and extra columns
    # are zeroed once, so the name holds what fixes the written cells for a given shape
    padded = _workspace(f"dx rows G {e} {row} {g.Wo}", (K, g.N, L + 2 * e), dtype, fill=0.0)
    padded[:, :, e : e + L].reshape(K, g.N, g.Ho, row)[..., : g.Wo] = G4.transpose(1, 0, 2, 3)
    sK, sN, sE = padded.strides
    M = _workspace("dx rows filters", (fh * C, fw * K), dtype)  # [(i, c), (fw-1-j, k)]
    np.copyto(M.reshape(fh, C, fw, K), F[:, :, :, ::-1].transpose(2, 1, 3, 0))
    plane = (g.H + 2 * g.ph + 1) * row
    # trick 15 (f_w GEMMs on shifted views, no stack) only without shifted columns: with them the
    # stack serves dX, and dF too unless it is mid-sized (trick 19)
    views = Z is None and _dx_views(g, K)
    D = None
    if Z is not None and _df_views(C * fh * fw * K, L + e):  # trick 19: dF, per-image GEMMs on views
        D = _shifted_filter_gradient(Z.reshape(C * fh, g.N, L + e), padded, fw, g.dw)
        Z = None  # the stack below, if any, is for dX only
        if not input_grad:
            return None, D
    if views:
        block = g.N
        if _TRICKS["blocked_dx"]:
            block = max(1, min(g.N, _DX_BLOCK_BYTES // (2 * fh * C * (L + 2 * e) * dtype.itemsize)))
    stack_space = _workspace("dx rows stack", (0 if views else fw * K * block * (L + e),), dtype)
    out_space = _workspace("dx rows out", (fh * C * block * (L + 2 * e),), dtype)
    product_space = _workspace("dx rows product", (fh * C * block * (L + 2 * e) if views else 0,), dtype)
    acc_space = _workspace("accumulator", (C * block * plane,), dtype)
    dX = (np.empty((g.N, g.C, g.H, g.W), dtype=dtype) if out is None else out) if input_grad else None
    runs = None if Z is None else Z.reshape(C * fh, g.N, L + e)
    if Z is not None:  # dF's GEMM in (C f_h, f_w K) (trick 18 if small), summed over the blocks
        D = _workspace("dF rows", (C * fh, fw * K), dtype)
        D.fill(0)
    for n0 in range(0, g.N, block):
        n = min(block, g.N - n0)
        if views:  # rows (per image L + 2e apart) = sum_j M_j @ (G flat, shifted by j d_w)
            flat = padded[:, n0 : n0 + n].reshape(K, -1)
            T = n * (L + 2 * e) - e
            out = out_space[: fh * C * n * (L + 2 * e)].reshape(fh * C, -1)
            product = product_space[: fh * C * T].reshape(fh * C, T)
            np.matmul(M[:, :K], flat[:, :T], out=out[:, :T])
            for j in range(1, fw):
                np.matmul(M[:, j * K : (j + 1) * K], flat[:, j * g.dw : j * g.dw + T], out=product)
                np.add(out[:, :T], product, out=out[:, :T])
            rows = out.reshape(fh, C, n, L + 2 * e)[..., : L + e]
        else:
            stack = stack_space[: fw * K * n * (L + e)].reshape(fw, K, n, L + e)
            shifted = as_strided(padded[:, n0:], (fw, K, n, L + e), (g.dw * sE, sK, sN, sE), writeable=False)
            np.copyto(stack, shifted)
            stack_mat = stack.reshape(fw * K, -1)
            if runs is not None and D is not None:
                D += _filter_gradient(runs[:, n0 : n0 + n].reshape(C * fh, -1), stack_mat)
            if dX is None:  # dF only
                continue
            out = out_space[: fh * C * n * (L + e)].reshape(fh * C, n * (L + e))
            np.matmul(M, stack_mat, out=out)
            rows = out.reshape(fh, C, n, L + e)
        assert dX is not None
        acc = acc_space[: C * n * plane].reshape(C, n, plane)
        acc[:, :, : L + e] = rows[0]  # the first filter row assigns, the others add
        acc[:, :, L + e :] = 0
        for i in range(1, fh):
            start = i * g.dh * row
            acc[:, :, start : start + L + e] += rows[i]
        inner = acc.reshape(C, n, -1, row)[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W]
        dX[n0 : n0 + n] = inner.transpose(1, 0, 2, 3)
    return dX, D


def _row_stack_filters(D: np.ndarray, C: int, fh: int, fw: int, K: int) -> np.ndarray:
    """``dF (K, C, fh, fw)``, a view, from ``D[(c, i), (fw - 1 - j, k)]`` (copy ``fw - 1 - j`` pairs
    with tap j)."""
    return D.reshape(C, fh, fw, K)[:, :, ::-1].transpose(3, 0, 1, 2)


def _df_views(entries: int, run: int) -> bool:
    """Whether trick 13's dF comes from per-image GEMMs on shifted views of ``G`` (trick 19): mid-sized
    dFs, larger than trick 18 takes (its chunks of the stack's GEMM are as fast below), over
    per-image runs ``run = L + e`` of a measured length (shorter: GEMMs too small; longer: the
    long inner dimension of trick 18 again)."""
    low, high = _DF_VIEWS_RUNS
    return _TRICKS["df_views"] and _CHUNKED_DF_MAX < entries <= _DF_VIEWS_MAX and low <= run <= high


def _shifted_filter_gradient(runs: np.ndarray, padded: np.ndarray, fw: int, dw: int) -> np.ndarray:
    """``D (C f_h, f_w K)`` = ``runs @ stack^T`` without the stack (trick 19).

    ``runs (C f_h, N, L + e)``: the row-shifted columns; ``padded (K, N, L + 2e)``: ``G`` on full rows
    between zero margins.  Copy ``jj`` of the stack is ``padded`` read from ``jj d_w``: a strided
    *view*.  For each copy, one batched ``matmul`` multiplies image by image -- ``(C f_h, L + e) @
    (L + e, K)``, small GEMMs, fast for the reason of trick 18 -- and the ``N`` products are summed.
    """
    R, N, run = runs.shape
    K = padded.shape[0]
    sK, sN, sE = padded.strides
    D = _workspace("dF rows", (R, fw * K), runs.dtype)
    parts = _workspace("dF view parts", (N, R, K), runs.dtype)
    by_image = runs.transpose(1, 0, 2)  # (N, C f_h, L + e)
    for jj in range(fw):
        shifted = as_strided(padded[:, :, jj * dw :], (N, run, K), (sN, sE, sK), writeable=False)
        np.matmul(by_image, shifted, out=parts)
        parts.sum(axis=0, out=D[:, jj * K : (jj + 1) * K])
    return D


# --------------------------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------------------------


@overload
def conv2d(
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None = ...,
    stride: IntPair = ...,
    padding: IntPair = ...,
    dilation: IntPair = ...,
    *,
    return_cols: Literal[False] = ...,
) -> np.ndarray: ...
@overload
def conv2d(
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None = ...,
    stride: IntPair = ...,
    padding: IntPair = ...,
    dilation: IntPair = ...,
    *,
    return_cols: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def conv2d(
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None = ...,
    stride: IntPair = ...,
    padding: IntPair = ...,
    dilation: IntPair = ...,
    *,
    return_cols: bool,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...


@_with_small_buffers  # the additions of trick 13 and the bias of trick 21 (parts: in copies of its context)
def conv2d(
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    *,
    return_cols: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """:func:`cnnbook.conv2d`, fast: ``S`` or, with ``return_cols=True``, ``(S, cols)``.

    ``cols`` is in the working layout: ``im2col(X)`` exactly, full rows (trick 1) or row-shifted
    (trick 13), as :func:`layouts` says.  Pass it unchanged to :func:`conv2d_backward` of this module.
    """
    return_cols = as_flag(return_cols, "return_cols")
    X4, single = as_batch(X)
    F = as_filters(F, X4.shape[1])
    b = as_bias(b, F.shape[0])
    g = _conv_geometry(X4.shape, F.shape[2:], stride, padding, dilation)
    dtype = np.result_type(X4.dtype, F.dtype)
    K = F.shape[0]
    F = F.astype(dtype, copy=False)
    b = None if b is None else b.astype(dtype, copy=False)
    shifted = _shifted(g, K) and _all_finite(X4)
    rows, per_image = (g.C * g.fh, _shifted_run(g)) if shifted else (g.cols_shape[0], _image_columns(g))
    cols = np.empty((rows, g.N * per_image), dtype=dtype)
    S = np.empty((g.N, K, g.Ho, g.Wo), dtype=dtype)

    def part(lo: int, hi: int) -> None:  # images lo:hi (all of them unless trick 20 cuts the batch)
        columns = cols[:, lo * per_image : hi * per_image]
        _forward(X4[lo:hi], F, b, _part_geometry(g, hi - lo), shifted, columns, S[lo:hi])

    _in_parts(part, g, K, list)
    result = S[0] if single else S
    if not return_cols:
        return result
    return result, cols


def _forward(
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None,
    g: Geometry,
    shifted: bool,
    cols: np.ndarray,
    S: np.ndarray,
) -> None:
    """The columns of ``X (N, C, H, W)`` into ``cols`` and ``S (N, K, H', W')`` into ``S``: row-shifted
    columns (trick 13) or im2col columns and one GEMM."""
    K = F.shape[0]
    if shifted:
        _shifted_columns(X, g, cols.dtype, out=cols)
        _shifted_forward(cols, F, b, g, S)
        return
    full = _full_rows(g)
    _columns(X, g, full, cols.dtype, out=cols)
    if _image_gemms(g, full):  # trick 21: (K, C fh fw) @ (C fh fw, H' W') for each image, into S
        rows = cols.shape[0]
        np.matmul(F.reshape(K, -1), cols.reshape(rows, g.N, -1).transpose(1, 0, 2), out=S.reshape(g.N, K, -1))
        if b is not None:
            S += b[:, None, None]
        return
    # rows 64 bytes longer than needed: a power-of-two row stride would map the reorder's reads
    # of one column of blocks to the same cache sets
    out = _workspace("output", (K, cols.shape[1] + _SKEW), cols.dtype)[:, : cols.shape[1]]
    np.matmul(F.reshape(K, -1), cols, out=out)  # the one GEMM
    if b is not None:  # on the GEMM output's contiguous rows, before the reorder (trick 3)
        out += b[:, None]
    np.copyto(S, out.reshape(K, g.N, g.Ho, _width(g, full))[..., : g.Wo].transpose(1, 0, 2, 3))


def _image_gemms(g: Geometry, full: bool) -> bool:
    """Whether the forward multiplies image by image straight into ``S`` (trick 21): exact columns
    (``S``'s layout), ``C f_h f_w <= 300``, and a BLAS that runs this call on one thread (one
    thread set, or inside a part of trick 20), where small GEMMs lose no second core."""
    return (
        _TRICKS["image_gemms"]
        and not full
        and g.C * g.fh * g.fw <= _IMAGE_GEMMS_MAX_ROWS
        and batch_threads.blas_threads() == 1
    )


def _image_columns(g: Geometry) -> int:
    """Columns per image of the im2col working layout: ``H' Wq``."""
    return g.Ho * _width(g, _full_rows(g))


@lru_cache(maxsize=256)
def _part_geometry(g: Geometry, n: int) -> Geometry:
    """``g`` for ``n`` of its images (trick 20)."""
    return g if n == g.N else replace(g, N=n)


def _in_parts(
    part: Callable[[int, int], _Part], g: Geometry, K: int, combine: Callable[[list[_Part]], _Result]
) -> _Result:
    """``combine([part(lo, hi), ...])`` over the batch of ``g``: one part of all ``N`` images, or
    several at once on threads (trick 20, :func:`cnnbook.batch_threads.run_parts`; ``combine``
    runs before another call may reuse the helpers' workspaces, which the parts' results may be)."""
    if not _TRICKS["batch_threads"]:
        return combine([part(0, g.N)])
    work = g.N * g.Ho * g.Wo * g.C * g.fh * g.fw * K  # the forward's multiply-adds
    return batch_threads.run_parts(part, g.N, work, combine)


def _total(parts: list[np.ndarray], arrange: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """The sum of the parts' arrays (workspaces, maybe), each seen through ``arrange``: a fresh,
    contiguous array."""
    views = parts if arrange is None else [arrange(part) for part in parts]
    total = np.empty(views[0].shape, dtype=views[0].dtype)
    np.copyto(total, views[0])
    for view in views[1:]:
        total += view
    return total


@_with_small_buffers  # the parts of trick 20 run in copies of its context: small buffers too
def conv2d_backward(
    G: np.ndarray,
    X: np.ndarray,
    F: np.ndarray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    *,
    cols: np.ndarray | None = None,
    input_grad: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """:func:`cnnbook.conv2d_backward`, fast: ``(dX, dF, db)``.

    ``cols``: the ``cols`` that :func:`conv2d` of this module returned, or plain
    ``cnnbook.im2col(X, ...)``.  ``input_grad=False`` skips ``dX`` (returned as ``None``).
    """
    input_grad = as_flag(input_grad, "input_grad")
    X4, single = as_batch(X)
    F = as_filters(F, X4.shape[1])
    g = _conv_geometry(X4.shape, F.shape[2:], stride, padding, dilation)
    K = F.shape[0]
    G4 = as_upstream(G, (g.N, K, g.Ho, g.Wo), single)
    full = _full_rows(g)
    work_shape = (g.cols_shape[0], g.N * _image_columns(g))
    shifted_ok = g.sh == g.sw == 1 and g.fw > 1  # where row-shifted columns exist (their shape is unique)
    if cols is not None:
        cols = as_float_array(cols, "cols", (2,))
        accepted = {g.cols_shape, work_shape} | ({_shifted_shape(g)} if shifted_ok else set())
        if cols.shape not in accepted:
            raise ValueError(
                f"cols has shape {cols.shape}; pass im2col(X) {g.cols_shape} or the cols that "
                f"fast.conv2d(..., return_cols=True) returned (one of {sorted(accepted)})"
            )
    dtype = np.result_type(G4.dtype, X4.dtype, F.dtype)
    G4 = G4.astype(dtype, copy=False)
    F = F.astype(dtype, copy=False)
    # Full rows (and the stack or views built on them) carry zeros of G that no window produced; a
    # NaN or inf filter tap times those zeros would spread NaN to pixels that tap never reads.
    # Such filters get dX from exact columns, as in the core.
    taps_finite = _all_finite(F)
    if cols is None and _shifted(g, K) and _all_finite(X4):
        cols = _shifted_columns(X4, g, dtype)
    if cols is None:
        cols = _columns(X4, g, full, dtype)
    cols = cols.astype(dtype, copy=False)
    shifted = shifted_ok and cols.shape == _shifted_shape(g)
    dX = np.empty((g.N, g.C, g.H, g.W), dtype=dtype) if input_grad else None
    per_image = cols.shape[1] // g.N

    def part(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:  # images lo:hi (trick 20)
        return _backward(
            G4[lo:hi],
            F,
            _part_geometry(g, hi - lo),
            cols[:, lo * per_image : hi * per_image],
            shifted,
            None if dX is None else dX[lo:hi],
            taps_finite,
        )

    def combine(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """The parts' dF (workspaces: summed into a fresh array) and db, added up."""
        dF_parts = [dF_part for dF_part, _ in parts]
        if shifted:
            dF = _total(dF_parts, lambda D: _row_stack_filters(D, g.C, g.fh, g.fw, K))
        else:
            dF = _total(dF_parts, lambda dFT: dFT.T.reshape(F.shape))  # as (cols @ G_mat.T).T (trick 4)
        return dF, _total([db_part for _, db_part in parts])

    dF, db = _in_parts(part, g, K, combine)
    if shifted and dX is not None and not taps_finite:
        _input_gradient(F.reshape(K, -1), _upstream_matrix(G4, g, False), g, False, out=dX)
    return (None if dX is None else dX[0] if single else dX), dF, db


def _backward(
    G4: np.ndarray,
    F: np.ndarray,
    g: Geometry,
    cols: np.ndarray,
    shifted: bool,
    dX: np.ndarray | None,
    taps_finite: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """dF and db of a batch (or of a part of one, trick 20), and dX written into ``dX`` unless that
    is None.  dF is a workspace in the working order: ``D (C f_h, f_w K)`` for row-shifted ``cols``
    (trick 13), ``dF^T (C f_h f_w, K)`` otherwise."""
    K = F.shape[0]
    if shifted:
        # row-shifted columns (trick 13): dF and dX from one stack of shifted copies of G
        want_dx = dX is not None and taps_finite
        _, dF = _row_stack_backward(F, G4, g, cols, want_dx, out=dX if want_dx else None)
        assert dF is not None
        # db: a GEMV of each (image, filter) plane against ones, then the images added: 14 us where
        # G.sum(axis=(0, 2, 3)) took 53 (64 x 16 planes of 14 x 14)
        planes = G4.reshape(g.N * K, g.Ho * g.Wo)
        sums = planes @ _workspace("ones", (g.Ho * g.Wo,), planes.dtype, fill=1.0)
        return dF, sums.reshape(g.N, K).sum(axis=0)
    # pair the columns with G in their layout (plain im2col(X) columns: the exact one)
    full = _full_rows(g)
    cols_full = full and cols.shape[1] == g.N * _image_columns(g)
    G_cols = _upstream_matrix(G4, g, cols_full)  # (K, N*H'*Wq)
    dF = _filter_gradient(cols, G_cols)
    # extra columns hold zeros; one GEMV against ones sums the contiguous rows ~3x faster than sum()
    db = G_cols @ _workspace("ones", (G_cols.shape[1],), cols.dtype, fill=1.0)
    if dX is None:
        return dF, db
    dx_full = taps_finite and _dx_full_rows(g, cols_full, K)
    if _dx_row_gemm(g, dx_full, K):
        _row_stack_backward(F, G4, g, None, True, out=dX)
    else:
        G_dx = G_cols if dx_full == cols_full else _upstream_matrix(G4, g, dx_full)
        _input_gradient(F.reshape(K, -1), G_dx, g, dx_full, out=dX)
    return dF, db


# --------------------------------------------------------------------------------------------
# Pooling (trick 7)
# --------------------------------------------------------------------------------------------


def _window_cells(X4: np.ndarray, g: Geometry, pad_value: float) -> list[np.ndarray]:
    """The ``r_h r_w`` window cells: array ``k`` holds, for each output, cell ``k`` (row-major) of its window.

    Each is ``(N*C, H', W')``.  Non-overlapping unpadded windows (stride = size, no padding: the
    common case) are strided *views* of ``X`` -- nothing is copied; otherwise the rows of the
    planes' im2col (padding filled with ``pad_value``).
    """
    planes = X4.reshape(g.N, g.H, g.W)
    if (g.sh, g.sw) == (g.fh, g.fw) and g.ph == g.pw == 0:
        return [
            planes[:, i : i + g.fh * (g.Ho - 1) + 1 : g.fh, j : j + g.fw * (g.Wo - 1) + 1 : g.fw]
            for i in range(g.fh)
            for j in range(g.fw)
        ]
    cols = _im2col(planes[:, None], g, pad_value=pad_value)
    return [row.reshape(g.N, g.Ho, g.Wo) for row in cols]


@lru_cache(maxsize=64)
def _cell_positions(g: Geometry) -> np.ndarray:
    """``(r_h r_w, H'*W')``: flat index ``row*W + col`` in its plane of each window cell (-1: padding)."""
    plane_index = np.arange(g.H * g.W, dtype=np.float64).reshape(1, 1, g.H, g.W)
    one = Geometry.of((1, 1, g.H, g.W), (g.fh, g.fw), (g.sh, g.sw), (g.ph, g.pw), 1)
    where = _im2col(plane_index, one, -1.0).astype(np.intp)
    where.setflags(write=False)  # shared through the cache
    return where


def _winner_positions(winner: np.ndarray, g: Geometry) -> np.ndarray:
    """Flat index ``row*W + col`` in its plane of each window's winning cell; ``winner (N*C, H', W')``."""
    if g.ph == g.pw == 0:  # window (y, x) starts at (y s_h, x s_w); cell k sits (k // r_w, k % r_w) further
        start = (np.arange(g.Ho) * g.sh)[:, None] * g.W + np.arange(g.Wo) * g.sw
        offset = (np.arange(g.fh)[:, None] * g.W + np.arange(g.fw)).ravel()
        return start + np.take(offset, winner)  # take: 0.14 ms where offset[winner] takes 0.23 (100k winners)
    # With padding: only an all -inf window can pick a padding cell (its first); it gets its
    # window's first real pixel instead.
    where = _cell_positions(g)
    positions = np.arange(g.Ho * g.Wo)
    first_real = where[np.argmax(where >= 0, axis=0), positions]
    found = where[winner.reshape(-1, g.Ho * g.Wo), positions]
    return np.where(found >= 0, found, first_real).reshape(winner.shape)


def _first_winner(cells: list[np.ndarray], out: np.ndarray) -> np.ndarray:
    """Index of the first window cell (row-major) equal to the window's maximum ``out``.

    Ties go to the first; a NaN counts as the maximum of its window (the first NaN wins, as with
    ``np.argmax``).  With ``m_k`` = 1 if cell ``k`` is *not* the maximum, else 0, the first winner
    is the number of leading misses, ``m_0 (1 + m_1 (1 + ... (1 + m_{R-2})))``: evaluated from the
    inside out, one comparison and two small-integer passes per cell, no lookup (trick 7).
    """
    has_nan = bool(np.isnan(out).any())

    def misses(cell: np.ndarray) -> np.ndarray:
        miss = np.not_equal(cell, out)
        if has_nan:
            miss &= ~np.isnan(cell)
        return miss

    R = len(cells)
    if R == 1:
        return np.zeros(out.shape, dtype=np.intp)
    count: np.ndarray = misses(cells[R - 2]).astype(np.uint8 if R <= 256 else np.intp)
    for k in range(R - 3, -1, -1):
        np.add(count, 1, out=count)
        np.multiply(count, misses(cells[k]), out=count)
    return count


@overload
def maxpool2d(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = ...,
    padding: IntPair = ...,
    *,
    return_indices: Literal[False] = ...,
) -> np.ndarray: ...
@overload
def maxpool2d(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = ...,
    padding: IntPair = ...,
    *,
    return_indices: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def maxpool2d(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = ...,
    padding: IntPair = ...,
    *,
    return_indices: bool,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...


def maxpool2d(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    *,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """:func:`cnnbook.maxpool2d`, fast: ``out`` or ``(out, indices)``."""
    return_indices = as_flag(return_indices, "return_indices")
    X4, single = as_batch(X)
    g = _pool_geometry(X4.shape, kernel_size, stride, padding)
    cells = _window_cells(X4, g, pad_value=-np.inf)
    out = cells[0].copy()
    for cell in cells[1:]:
        np.maximum(out, cell, out=out)  # propagates NaN
    shape = (X4.shape[0], X4.shape[1], g.Ho, g.Wo)
    result = out.reshape(shape)
    if single:
        result = result[0]
    if not return_indices:
        return result
    indices = _winner_positions(_first_winner(cells, out), g).reshape(result.shape)
    return result, indices


def maxpool2d_backward(
    G: np.ndarray,
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    *,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`cnnbook.maxpool2d_backward`, fast: route each ``G`` entry to its window's winner."""
    X4, single = as_batch(X)
    g = _pool_geometry(X4.shape, kernel_size, stride, padding)
    N, C = X4.shape[:2]
    G4 = as_upstream(G, (N, C, g.Ho, g.Wo), single, "the pooled output")
    if indices is None:
        indices = maxpool2d(X4, (g.fh, g.fw), (g.sh, g.sw), (g.ph, g.pw), return_indices=True)[1]
    else:
        indices = as_indices(indices, (N, C, g.Ho, g.Wo), single, g.H * g.W)
    plane = g.H * g.W
    # Flat index into the whole (N*C, H, W) stack.
    index = (indices.reshape(g.N, -1) + (np.arange(g.N) * plane)[:, None]).ravel()
    if g.sh >= g.fh and g.sw >= g.fw:  # windows do not overlap: every winner is distinct
        dX = np.zeros(g.N * plane, dtype=G4.dtype)
        dX[index] = G4.ravel()
    else:  # overlapping windows: bincount adds up the gradients of an input that wins several
        dX = np.bincount(index, weights=G4.ravel(), minlength=g.N * plane).astype(G4.dtype, copy=False)
    dX = dX.reshape(X4.shape)
    return dX[0] if single else dX


def avgpool2d(
    X: np.ndarray, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> np.ndarray:
    """:func:`cnnbook.avgpool2d`, fast: window cells as views where windows tile the input."""
    X4, single = as_batch(X)
    g = _pool_geometry(X4.shape, kernel_size, stride, padding)
    cells = _window_cells(X4, g, pad_value=0.0)
    total = cells[0].copy()
    for cell in cells[1:]:
        total += cell
    out = (total / len(cells)).reshape(X4.shape[0], X4.shape[1], g.Ho, g.Wo)
    return out[0] if single else out


def avgpool2d_backward(
    G: np.ndarray, X: np.ndarray, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> np.ndarray:
    """:func:`cnnbook.avgpool2d_backward`, fast: spread ``G/(r_h r_w)`` over every window."""
    X4, single = as_batch(X)
    g = _pool_geometry(X4.shape, kernel_size, stride, padding)
    G4 = as_upstream(G, (X4.shape[0], X4.shape[1], g.Ho, g.Wo), single, "the pooled output")
    share = G4.reshape(1, -1) / (g.fh * g.fw)
    dX = _col2im(np.broadcast_to(share, g.cols_shape), g).reshape(X4.shape)
    return dX[0] if single else dX


# --------------------------------------------------------------------------------------------
# ReLU (trick 23)
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _zeros(size: int, dtype: np.dtype) -> np.ndarray:
    """``size`` zeros of ``dtype``, read-only, shared by every call that needs that many (trick 23).

    Never written: the pages of a large one stay the kernel's one shared page of zeros.
    """
    zeros = np.zeros(size, dtype=dtype)
    zeros.setflags(write=False)
    return zeros


def relu(x: np.ndarray) -> np.ndarray:
    """:func:`cnnbook.functional.relu`, fast: ``max(x, 0)`` against an array of zeros (trick 23)."""
    x = as_float_array(x, "x", None)
    if not (_TRICKS["relu_zeros"] and x.flags.c_contiguous and x.dtype.isnative):
        return fn.relu(x)  # the core's output keeps x's memory order and byte order
    return np.maximum(x, _zeros(x.size, x.dtype).reshape(x.shape))


# --------------------------------------------------------------------------------------------
# The order of a network's layers (trick 24)
# --------------------------------------------------------------------------------------------

_Layer = TypeVar("_Layer")


def running_order(layers: Sequence[_Layer]) -> list[_Layer]:
    """``layers`` in the order to run them: as given, except that each :class:`~cnnbook.layers.ReLU`
    directly followed by a strided :class:`~cnnbook.layers.MaxPool2D` swaps places with it (trick 24).

    ``max`` commutes with the monotone ReLU, so the output and the parameters' gradients stay
    exactly the same while the ReLU and its backward run on the pooled, smaller array.  Only these
    two exact classes swap (a subclass may behave differently), and only when the pooling has a
    stride above 1: it then shrinks the array, so the swap pays, and a backward pass stepped through
    by hand in the written order after a swapped forward fails on the shapes instead of computing
    something else (unless padding keeps a tiny input's size, e.g. 2x2 windows, stride 2 and
    padding 1 on a 2x2 input); :meth:`cnnbook.models.Sequential.loss_and_gradients`
    and inference (``forward(X, training=False)``) use this order, the ``pool_before_relu`` switch
    off keeps the written one.
    """
    from .layers import MaxPool2D, ReLU  # here: cnnbook.layers imports this module

    order = list(layers)
    if not _TRICKS["pool_before_relu"]:
        return order
    i = 0
    while i + 1 < len(order):
        pool: object = order[i + 1]
        if type(order[i]) is ReLU and type(pool) is MaxPool2D and pool.spec.stride != (1, 1):
            order[i], order[i + 1] = order[i + 1], order[i]
            i += 2
        else:
            i += 1
    return order


# --------------------------------------------------------------------------------------------
# Measuring what each trick buys (lesson 08, benchmarks/conv_speed.py --ablation).
# --------------------------------------------------------------------------------------------


@contextmanager
def tricks_off(*names: str) -> Iterator[None]:
    """Turn the named speed tricks off inside a ``with`` block, to measure what each one buys.

    ``names``: any of ``"one_copy"`` (trick 8), ``"layout_choice"`` (tricks 1 and 14),
    ``"workspaces"`` (trick 9), ``"blocked_dx"`` (trick 10), ``"dx_row_gemm"`` (trick 12),
    ``"shifted_columns"`` (trick 13), ``"dx_shifted_views"`` (trick 15), ``"small_buffers"`` (trick 17),
    ``"chunked_df"`` (trick 18), ``"df_views"`` (trick 19), ``"batch_threads"`` (trick 20),
    ``"image_gemms"`` (trick 21), ``"shared_padding"`` (trick 22), ``"relu_zeros"`` (trick 23),
    ``"pool_before_relu"`` (trick 24).
    Results are the same with any trick off (``tests/test_fast_branches.py``); only the time and the
    memory change.  Keep a forward and its backward under the same switches: ``layout_choice`` and
    ``shared_padding`` change the layout of the ``cols`` that the backward accepts.  The previous
    switches are restored on leaving the block, also after an exception.  Not thread-safe.
    """
    unknown = [name for name in names if name not in _TRICKS]
    if unknown:
        raise ValueError(f"names: unknown trick(s) {unknown}; the switchable ones are {sorted(_TRICKS)}")
    saved = dict(_TRICKS)
    _TRICKS.update(dict.fromkeys(names, False))
    try:
        yield
    finally:
        _TRICKS.update(saved)


class Branches(NamedTuple):
    """The branches :func:`conv2d` and :func:`conv2d_backward` take for one geometry (see :func:`layouts`)."""

    columns: str  # "exact" (im2col's), "full rows" (trick 1) or "shifted rows" (trick 13)
    dx: str  # "exact" or "full rows" (tricks 1 and 14)
    dx_taps: str  # dX's horizontal taps: "additions", "stack" (trick 12) or "views" (trick 15)
    # dF's GEMMs: "one", "chunks" (trick 18), "stack" (trick 13; in chunks if small) or "views" (trick 19)
    df: str


def layouts(
    input_shape: tuple[int, ...],
    filter_shape: tuple[int, ...],
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> Branches:
    """Which branches the fast path takes for this geometry, as a :class:`Branches`.

    ``input_shape``: ``(N, C, H, W)``; ``filter_shape``: ``(K, C, fh, fw)``.  For inputs and filters
    with no NaN or inf (an input that holds them never gets shifted rows, filters that hold them
    get exact dX: trick 16).
    Depends on the switches of :func:`tricks_off`.  For lesson 08 and the tests.  Two choices are
    made at the call, not by the geometry, and are not reported: trick 20's parts (the BLAS thread
    count and :mod:`cnnbook.batch_threads`'s rule) and trick 21's image-by-image forward (exact
    columns on a one-thread BLAS); a part's dF may then take chunks where the whole batch's would not.
    """
    if len(input_shape) != 4 or len(filter_shape) != 4:
        raise ValueError(
            "input_shape and filter_shape must be (N, C, H, W) and (K, C, fh, fw), "
            f"got {input_shape}, {filter_shape}"
        )
    if filter_shape[1] != input_shape[1]:
        raise ValueError(
            f"filter_shape {filter_shape} has {filter_shape[1]} channels; the input has {input_shape[1]}"
        )
    g = _conv_geometry(tuple(int(n) for n in input_shape), filter_shape[2:], stride, padding, dilation)
    K = int(filter_shape[0])
    entries = g.C * g.fh * g.fw * K  # of dF
    if _shifted(g, K):
        df = "views" if _df_views(entries, _shifted_run(g)) else "stack"
        return Branches("shifted rows", "full rows", "stack", df)
    full = _full_rows(g)
    dx_full = _dx_full_rows(g, full, K)
    taps = "additions"
    if _dx_row_gemm(g, dx_full, K):
        taps = "views" if _dx_views(g, K) else "stack"
    inner = g.N * _image_columns(g)  # dF's inner dimension
    df = "chunks" if _chunked_df(entries, inner) else "one"
    return Branches("full rows" if full else "exact", "full rows" if dx_full else "exact", taps, df)
