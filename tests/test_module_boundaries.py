"""CONTRIBUTING's rule: a name starting with `_` is private to its module.

No module of the package, no test and no benchmark imports another module's `_private` name
(helpers several modules need live in `cnnbook._checks` under public names).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("cnnbook/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/*.py")])


def is_internal_module(module: str, name: str) -> bool:
    """`from cnnbook import _checks` / `from . import _checks`: an internal module, imported whole."""
    return module in ("", "cnnbook") and (ROOT / "cnnbook" / f"{name}.py").exists()


def private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
            module = node.module or ""
            found += [
                f"line {node.lineno}: from {'.' * node.level}{module} import {name}"
                for name in names
                if name.startswith("_") and not name.startswith("__") and not is_internal_module(module, name)
            ]
    return found


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_no_private_name_crosses_a_module_boundary(path):
    assert private_imports(path) == []


def test_the_check_sees_a_private_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from cnnbook.im2col import _im2col\nfrom ._checks import as_int\nfrom cnnbook import _checks\n"
    )
    assert private_imports(sample) == ["line 1: from cnnbook.im2col import _im2col"]
