"""Data parallelism for :func:`cnnbook.train.fit`: processes share out each mini-batch.

``fit(..., processes=P)`` cuts every mini-batch into ``P`` parts of (nearly) equal size.  ``P - 1``
forked worker processes each run :meth:`~cnnbook.models.Sequential.loss_and_gradients` on one of the
first parts with their own copy of the model, while the process that called ``fit`` (the parent)
runs it on the last part with the model itself; the parent adds the parts' gradients weighted by
their sizes -- the loss is a mean over the batch, so ``sum_p (n_p / n) grad_p`` *is* the whole
batch's gradient, up to the order of float additions -- and takes the SGD step itself.  The
weights, the batch, the workers' gradients, the scores and the losses travel through shared memory
(anonymous shared mappings, which the workers inherit when they are forked at the start of
``fit``); each step sends only the part bounds and a reply through a pipe.

The parent computes a part because it would otherwise wait idle while the workers compute: with
``processes=2`` on two cores, two workers and an idle parent took 0.32-0.37 s per epoch of lesson
09's network, one worker and the parent 0.26-0.32 s (standalone runs, four each; same losses to
the last digit, the parts being added in the same order).

Why processes and not threads: threads share the interpreter lock, which the Python between NumPy
calls holds, and a training step makes some 300 NumPy calls, each a hand-over of the lock from one
thread to the other. Two 32-image halves of a step of lesson 09's network, run at once, took
1.6-1.9x the time of one half alone on two threads and 1.16-1.31x in two processes (five
measurements, three by ``benchmarks/step_threads.py``), and an epoch whose steps were cut that way
on threads (a copy of the model per thread, sharing its parameter arrays) took 0.97-1.01x one
process's epoch, for 20 % more CPU time. The fast path does cut a convolution's batch into parts on
threads (:mod:`cnnbook.batch_threads`, trick 20 of ``cnnbook/fast.py``), where each part is a few
long NumPy calls, but pooling, activations and the rest of a step stay on one core. On two cores an
epoch of lesson 09's network took 0.91-1.00x PyTorch's time with ``processes=2``
(``benchmarks/train_speed.py``, nine runs; 0.91-1.20x in seven runs before trick 24 of
``cnnbook/fast.py``), against 1.18-1.44x in one process, with the same final loss to three digits
and the same test accuracy on average: over twenty seeds 0.04 points below one process, -0.4 to
+0.3 seed by seed, about as far as a change in the order of float32 additions alone moves a run (in a
separate float64 run of three epochs on lesson 09's 4,000 digits, the two runs' weights agree to
4e-16, relative).

Each worker sets NumPy's OpenBLAS to one thread when it starts
(:func:`cnnbook.batch_threads.set_blas_threads`), whatever the parent has, and the parent runs its
own part on one thread too (:func:`cnnbook.batch_threads.one_blas_thread`): two workers with two BLAS
threads each put four threads on two cores, and with ``OPENBLAS_THREAD_TIMEOUT=4`` (``make lab``)
each worker also cut its convolutions into parts on threads; started that way, before the workers
set their own count, an epoch took 0.86-1.14 s, three times one process's.  Another BLAS library
needs ``OMP_NUM_THREADS=1``/``MKL_NUM_THREADS=1`` in the environment before NumPy is imported.
Needs the ``fork`` start method (Linux; not Windows; macOS has it, but not all of its system
libraries are safe to fork, which is why Python starts processes differently there by default).
Not for use from several threads at once.
"""

from __future__ import annotations

import mmap
import multiprocessing
import signal
from contextlib import suppress
from itertools import pairwise
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from . import batch_threads
from .models import Sequential

__all__ = ["BatchWorkers"]


def _shared(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A zeroed array in an anonymous shared mapping: a forked child writes to the parent's memory."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    buffer = mmap.mmap(-1, max(1, count * dtype.itemsize))
    return np.frombuffer(buffer, dtype=dtype, count=count).reshape(shape)


class BatchWorkers:
    """``processes`` processes -- this one and ``processes - 1`` forked workers -- that compute the
    loss and gradients of parts of a batch.

    ``model``: the model :func:`cnnbook.train.fit` trains (the workers get copies when they are
    forked; this process computes its part with ``model`` itself); ``example_shape``, ``dtype``: one
    example of the training data; ``batch_size``: the largest batch.  :meth:`loss_and_gradients`
    returns what the model's own method returns, the parts' gradients combined in each of the
    model's layers (layers inside a block such as :class:`cnnbook.residual.Residual` keep this
    process's part only; the optimizer reads the block's).  Use as a context manager (or call
    :meth:`close`): the workers end with it, or when the parent process dies.
    """

    def __init__(
        self, model: Sequential, processes: int, batch_size: int, example_shape: tuple[int, ...], dtype: Any
    ) -> None:
        if "fork" not in multiprocessing.get_all_start_methods():
            raise ValueError("processes > 1 needs the 'fork' start method, which this platform lacks")
        self.model, self.processes = model, processes
        workers = processes - 1  # this process computes a part too: the last
        self.keys = [(i, key) for i, layer in enumerate(model.layers) for key in layer.params]
        self.weights = [_shared(model.layers[i].params[key].shape, model.dtype) for i, key in self.keys]
        self.grads = [[_shared(w.shape, w.dtype) for w in self.weights] for _ in range(workers)]
        self.trainable = _shared((len(model.layers),), bool)
        classes = model.shapes(example_shape)[-1][0]
        self.X = _shared((batch_size, *example_shape), dtype)
        self.y = _shared((batch_size,), np.int64)
        self.scores = _shared((batch_size, classes), model.dtype)
        self.losses = _shared((workers,), np.float64)
        self._publish()
        context = multiprocessing.get_context("fork")
        self.pipes: list[Connection] = []
        self.owed: list[int] = []  # workers whose reply to the last step is still unread
        self.workers = []
        for p in range(workers):
            ours, theirs = context.Pipe()
            worker = context.Process(
                target=self._serve, args=(p, theirs, ours), daemon=True, name=f"cnnbook-{p}"
            )
            worker.start()
            theirs.close()
            self.pipes.append(ours)
            self.workers.append(worker)

    def _publish(self) -> None:
        """The parent's current weights and trainable flags, into shared memory (before every step)."""
        for (i, key), shared in zip(self.keys, self.weights):
            weights = self.model.layers[i].params[key]
            if weights.dtype != shared.dtype:
                raise TypeError(
                    f"layer {i}'s {key} is now {weights.dtype}, the workers have {shared.dtype}: "
                    "with processes > 1, change the model's dtype before or after fit, not during it"
                )
            np.copyto(shared, weights)
        self.trainable[:] = [layer.trainable for layer in self.model.layers]

    def _serve(self, p: int, pipe: Connection, parents_end: Connection) -> None:
        """The worker's loop (in the forked child): parts ``(lo, hi)`` in, ``None`` or an error out.

        The child closes the parent's ends of every pipe it inherited, so that it sees end-of-file
        and returns if the parent dies without :meth:`close`; Ctrl-C is the parent's to handle.
        """
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        batch_threads.set_blas_threads(1)  # the processes are the parallelism: one core each
        parents_end.close()
        for other in self.pipes:  # the earlier workers' pipes
            other.close()
        model = self.model  # the child's own copy
        while True:
            try:
                part = pipe.recv()
            except EOFError:
                return
            if part is None:
                return
            lo, hi = part
            try:
                for (i, key), shared in zip(self.keys, self.weights):
                    # into the arrays the layers compute with (a Residual's params are its branch's)
                    np.copyto(model.layers[i].params[key], shared)
                for layer, flag in zip(model.layers, self.trainable):
                    layer.trainable = bool(flag)
                loss, scores = self._part(model, lo, hi)
                self.losses[p] = loss
                self.scores[lo:hi] = scores
                for j, (i, key) in enumerate(self.keys):
                    grad = model.layers[i].grads.get(key)
                    if grad is not None:  # the parent's own part has the same keys (same model)
                        self.grads[p][j][...] = grad
            except Exception as err:  # reported to the parent, which raises it
                pipe.send((type(err).__name__, str(err)))
                continue
            pipe.send(None)

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """``(mean loss, scores)`` of the batch ``(X, y)`` (at most ``batch_size`` examples); the
        layers' ``grads`` filled, as the model's own method fills them.

        The batch is cut into ``processes`` parts of (nearly) equal size; the workers compute the
        first ones while this process computes the last with its own model, on one BLAS thread (its
        count is restored afterwards).  Every part runs under ``np.errstate`` raising on overflow,
        invalid and division (as :func:`cnnbook.train.fit` does): a :class:`FloatingPointError` in
        any part is raised here with its message, a worker's other errors as :class:`RuntimeError`
        naming their type -- after every part has finished.  :class:`TypeError` if a parameter's
        dtype changed since the workers started.
        """
        n = len(y)
        self._collect(self.owed)  # an interrupted step's workers: done before their inputs change
        self.X[:n] = X
        self.y[:n] = y
        self._publish()
        bounds = np.linspace(0, n, self.processes + 1).astype(int)
        parts = [(int(lo), int(hi)) for lo, hi in pairwise(bounds)]
        sizes = [hi - lo for lo, hi in parts]
        busy = [p for p in range(len(self.workers)) if sizes[p] > 0]  # fewer examples: some idle
        for p in busy:
            self.pipes[p].send(parts[p])
            self.owed.append(p)
        own_error: Exception | None = None
        try:
            own_loss, own_scores = self._own_part(*parts[-1])  # the last part is never empty
        except Exception as error:  # raised once the workers have answered
            own_error = error
        replies = self._collect(busy)
        if own_error is not None:
            raise own_error
        for reply in replies:
            if reply is not None:
                kind, message = reply
                if kind == "FloatingPointError":
                    raise FloatingPointError(message)
                raise RuntimeError(f"a worker process raised {kind}: {message}")
        own = [layer.grads for layer in self.model.layers]
        for layer in self.model.layers:
            layer.grads = {}
        for j, (i, key) in enumerate(self.keys):
            if key in own[i]:  # the parts add up in their order: the workers', then this process's
                total = np.zeros_like(own[i][key])
                for p in busy:
                    total += self.grads[p][j] * (sizes[p] / n)
                total += own[i][key] * (sizes[-1] / n)
                self.model.layers[i].grads[key] = total
        self.scores[parts[-1][0] : n] = own_scores
        loss = (sum(float(self.losses[p]) * sizes[p] for p in busy) + own_loss * sizes[-1]) / n
        return loss, self.scores[:n].copy()

    def _collect(self, workers: list[int]) -> list[tuple[str, str] | None]:
        """The replies of ``workers`` (``None``, or an error's type and message), each struck off
        :attr:`owed` as it arrives: a step interrupted here (Ctrl-C) or in this process's part leaves
        the rest owed, and the next step reads them first, so that no worker still writes the
        shared arrays while the next step reads or fills them."""
        replies = []
        for p in list(workers):
            try:
                replies.append(self.pipes[p].recv())
            except EOFError:
                message = "a worker process ended during a step (killed, or out of memory?)"
                raise RuntimeError(message) from None
            self.owed.remove(p)
        return replies

    def _part(self, model: Sequential, lo: int, hi: int) -> tuple[float, np.ndarray]:
        """``model``'s loss and gradients on examples ``lo:hi`` of the shared batch, floating-point
        errors raising as in :func:`cnnbook.train.fit` (a worker's part and this process's alike)."""
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            return model.loss_and_gradients(self.X[lo:hi], self.y[lo:hi])

    def _own_part(self, lo: int, hi: int) -> tuple[float, np.ndarray]:
        """This process's part of the batch, on one BLAS thread like the workers' parts."""
        with batch_threads.one_blas_thread():
            return self._part(self.model, lo, hi)

    def close(self) -> None:
        """End the workers (they also end if the parent dies: they see their pipes close)."""
        for pipe in self.pipes:
            with suppress(BrokenPipeError, OSError):
                pipe.send(None)
        for worker in self.workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for pipe in self.pipes:
            pipe.close()

    def __enter__(self) -> BatchWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
