"""Sphinx configuration of the book as a website (``make book``; tools/build_book.py stages the sources).

Everything the site needs is shipped in it: the theme's own assets (sphinx-book-theme on
pydata-sphinx-theme, fonts included), MathJax 3 from the ``sphinx-mathjax-offline`` wheel (copied, only
the CommonHTML renderer and its fonts, into ``_static/mathjax``), and Sphinx's own search index.  No page
loads anything from outside the site.  Notebooks are rendered by myst-nb from their committed outputs,
never executed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

# tools/build_book.py stages these sources (with the lessons) in build/book-src and names the checkout
ROOT = Path(os.environ.get("CNNBOOK_ROOT", Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(ROOT))

import cnnbook  # noqa: E402

project = "cnnbook"
author = "the cnnbook authors"
copyright = "the cnnbook authors"
release = version = cnnbook.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "downloads"]  # downloads: files, not pages

# --- notebooks: the committed outputs are the published ones -------------------------------------------
nb_execution_mode = "off"
nb_output_stderr = "show"
nb_merge_streams = True
nb_ipywidgets_js: dict[str, dict[str, str]] = {}  # no widget manager from a CDN: explorers are pictures here
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_dmath_double_inline = True  # `$$...$$` inside a paragraph (as JupyterLab renders it) is display math
suppress_warnings = ["mystnb.unknown_mime_type"]

# --- API reference ------------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# each object documented once, in the module that defines it (packages re-export through __all__)
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autosummary_generate = False
# Cross-references are checked (nitpicky), except to libraries whose inventories would have to be
# downloaded (intersphinx needs the network): numpy, matplotlib, ipywidgets, ... types are not links.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(np|numpy|npt|matplotlib|mpl|plt|ipywidgets|anywidget|traitlets|torch|nbformat|IPython)(\..*)?",
    ),
    (r"py:.*", r"(collections\.abc|typing|types|dataclasses|pathlib|io|os|enum)\..*"),
    (r"py:.*", r"(Path|Figure|Axes|ArrayLike|NDArray|Generator|Iterable|Iterator|Sequence|Callable|Mapping)"),
    (r"py:.*", r"(optional|array|array_like|ndarray|float64|float32|int|float|str|bool|tuple|dict|list)"),
    # the package's type aliases (``IntPair = int | tuple[int, int]``...) and private helpers
    (r"py:.*", r"(cnnbook\.(\w+\.)*)?(IntPair|RngLike|DTypeLike|Shape|Schedule|ArrayF|Array|Pair)"),
    (r"py:.*", r"cnnbook\.(\w+\.)*_\w+"),
]

# --- HTML: the book theme, everything local -----------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "cnnbook — convolutional networks from first principles"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = False  # the download links at the top of each lesson give the notebooks
# light by default: the figures are drawn on white (and an empty mode makes the theme log a console error)
html_context = {"default_mode": "light"}
html_theme_options = {
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "show_toc_level": 2,
    "navigation_with_keys": False,
}

# MathJax 3 (tex-chtml) from the sphinx-mathjax-offline wheel, served from _static: nothing from a CDN.
mathjax_path = "mathjax/tex-chtml.js"
_MATHJAX_PARTS = ["tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2", "ui", "a11y"]


def _mathjax_source() -> Path:
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the book needs MathJax from the sphinx-mathjax-offline wheel: pip install -e '.[book]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"


def _copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source, target = _mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for part in _MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)


# The docstrings' few NumPy-style section headings ("Parameters" over a row of dashes) become rubrics:
# a section title cannot stand inside an object's description, and the lines under it are prose.
_SECTIONS = {"Parameters", "Returns", "Examples", "Raises", "Notes", "See Also"}


def _rubrics(app, what, name, obj, options, lines: list[str]) -> None:
    section = None
    for i in range(len(lines)):
        title, rule = lines[i].strip(), lines[i + 1].strip() if i + 1 < len(lines) else ""
        if title in _SECTIONS and rule and set(rule) == {"-"} and len(rule) >= len(title):
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lines[i], lines[i + 1] = f"{indent}.. rubric:: {title}", ""
            section = title
        elif section in ("Parameters", "Returns", "Raises") and (field := _FIELD.match(lines[i])):
            # "name : what it is" -> a field list item (its indented continuation lines stay its body)
            lines[i] = f"{field.group(1)}:{field.group(2)}: {field.group(3)}"


_FIELD = re.compile(r"^(\s*)([\w*][\w*, ]*?) : (.*)$")


def _canonical(target: str, module: str | None, cls: str | None) -> str | None:
    """The documented name of ``target`` as the docstring meant it: ``cnnbook.conv2d`` is
    ``cnnbook.conv.conv2d``; ``forward`` in a class's docstring is that class's (or its base's) method."""
    import importlib
    import inspect

    scopes = []
    if module:
        scopes += [f"{module}.{cls}"] if cls else []
        scopes += [module]
    scopes += [""]
    scopes += [m for m in _modules() if "." not in target]  # a bare name in an autosummary line
    for scope in scopes:
        path = f"{scope}.{target}" if scope else target
        parts = path.split(".")
        if parts[0] != "cnnbook":
            continue
        obj: object = importlib.import_module("cnnbook")
        for part in parts[1:]:
            if not hasattr(obj, part):
                break
            owner, obj = obj, getattr(obj, part)
        else:
            if inspect.ismodule(obj):
                return obj.__name__
            if inspect.isclass(owner) and len(parts) > 1:  # a method: the class that defines it
                for base in inspect.getmro(owner):
                    if parts[-1] in vars(base):
                        return f"{base.__module__}.{base.__qualname__}.{parts[-1]}"
            fn = inspect.unwrap(obj) if callable(obj) else obj
            if hasattr(fn, "__module__") and hasattr(fn, "__qualname__"):
                return f"{fn.__module__}.{fn.__qualname__}"
            if inspect.ismodule(owner):  # module data (a constant): defined where first found
                for name in _data_homes(parts[-1]):
                    return name
            return None
    return None


def _modules() -> list[str]:
    import pkgutil

    import cnnbook

    return ["cnnbook", *(m.name for m in pkgutil.walk_packages(cnnbook.__path__, "cnnbook."))]


def _data_homes(name: str) -> list[str]:
    import importlib

    homes = []
    for module_name in _modules():
        source = getattr(importlib.import_module(module_name), "__file__", "") or ""
        lines = Path(source).read_text().splitlines() if source else []
        if any(line.startswith((f"{name} =", f"{name}:")) for line in lines):
            homes.append(f"{module_name}.{name}")
    return homes


def _resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    name = _canonical(target, node.get("py:module"), node.get("py:class"))
    if name is None:
        return None  # no such object in the package: a broken reference, the build fails
    domain = env.get_domain("py")
    for role in ("obj", "meth", "attr", "data", "func", "class", "mod"):
        found = domain.resolve_xref(env, node["refdoc"], app.builder, role, name, node, contnode)
        if found is not None:
            return found
    # The object exists but has no entry of its own (a method or constant without a docstring, which
    # autodoc leaves out): the name is shown as code, not linked.
    return contnode


def setup(app) -> None:
    _mathjax_source()  # fail at once, before reading any page, if MathJax is missing
    # MathJax on every page, not only on pages with math: the navigation shows lesson titles with math
    app.set_html_assets_policy("always")
    app.connect("autodoc-process-docstring", _rubrics)
    app.connect("missing-reference", _resolve)
    app.connect("build-finished", _copy_mathjax)
