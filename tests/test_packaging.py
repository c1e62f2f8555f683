"""Set-up files agree with each other, and the core stays free of plotting/widget imports."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*python=3\.11\s*$", env, re.M), "environment.yml must pin python=3.11"
    listed = {
        _name(line.split("-", 1)[1])
        for line in env.splitlines()
        if re.match(r"^\s+-\s+[A-Za-z]", line)
        and not line.strip().startswith("- pip")
        and "python=" not in line
        and "conda-forge" not in line
    }
    assert wanted == listed, (
        f"only in pyproject: {wanted - listed}; only in environment.yml: {listed - wanted}"
    )


def test_binder_installs_the_package():
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and "-e ." in post


def test_core_imports_neither_matplotlib_nor_ipywidgets():
    code = (
        "import sys, cnnbook, cnnbook.matrices, cnnbook.gradcheck; "
        "bad = [m for m in ('matplotlib', 'ipywidgets') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_installed_package_is_this_checkout_and_not_a_namespace():
    """An editable install made before cnnbook/__init__.py existed imports an empty namespace."""
    code = "import cnnbook, os; print(os.path.realpath(cnnbook.__file__))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == str(ROOT / "cnnbook" / "__init__.py")
