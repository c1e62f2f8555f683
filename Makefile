# The README's commands: `make lab`, `make test` and `make lint` (`make format` fixes what lint can).
# Both create .venv (python3 -m venv) on first use and install the book with its dev extras.
# `make student` writes the student edition (build/student/, solutions cut); `make student-test` also
# runs every student notebook top to bottom (CI runs it after `make test`).
# `make book` builds the book as an offline website in build/book/ (tools/build_book.py) from the committed
# notebooks; `make book-test` builds it and opens every page in headless Chromium (tests/book/).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# JupyterLab refuses to start as root unless told to; CI and these machines run as root.
ROOT_FLAG := $(shell [ "$$(id -u)" = "0" ] && echo --allow-root)

.PHONY: lab test lint format install benchmark student student-test book book-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# JupyterLab settings for this environment: no "official Jupyter news" toast, no update check, so a
# student's first screen is the book (share/jupyter/lab/settings/overrides.json of the venv).
OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(OVERRIDES): Makefile | $(BIN)/python
	mkdir -p $(dir $(OVERRIDES))
	printf '%s\n' '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $(OVERRIDES)

install: $(STAMP) $(OVERRIDES)

# OPENBLAS_THREAD_TIMEOUT=4: OpenBLAS's idle threads sleep at once instead of spinning, which lets
# cnnbook.fast run the parts of a batch on all cores (cnnbook/batch_threads.py); the kernels inherit it.
lab: $(STAMP) $(OVERRIDES)
	OPENBLAS_THREAD_TIMEOUT=4 $(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG)

# Two pytest workers (pytest-xdist); --dist loadfile keeps each notebook (nbval runs its cells in order
# in one kernel) and each test file (the browser tests share one JupyterLab) whole on one worker. One
# BLAS/OpenMP thread per process: two workers with two BLAS threads each oversubscribe two cores, and
# OpenBLAS's spinning threads then slow the training lessons many times over.
TEST_ENV := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

test: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile

# Code health: ruff's linter and formatter (check only) and mypy, all configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The student edition: every lesson with its solution regions cut (tools/make_student.py).
student: $(STAMP)
	$(BIN)/python tools/make_student.py

# Build it and execute each student notebook with nbclient, two at a time; names any that fails.
student-test: $(STAMP)
	$(BIN)/python tools/run_student.py

BOOK_STAMP := $(VENV)/.installed-book

$(BOOK_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,book,browser]'
	touch $(BOOK_STAMP)

# Sphinx with warnings as errors: a broken cross-reference or a missing image fails the build.
book: $(BOOK_STAMP)
	$(BIN)/python tools/build_book.py

# Reuses build/book when it is newer than every source of the site; screenshots in build/book-test-artifacts/.
book-test: $(BOOK_STAMP)
	$(BIN)/python -m pytest -p no:randomly tests/book

benchmark: $(STAMP)
	$(BIN)/python benchmarks/conv_speed.py
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf $(VENV) build *.egg-info
