"""The public API has one name per idea: no public name is defined in two modules.

(That no module imports another's ``_private`` names is test_module_boundaries.py.)"""

from __future__ import annotations

import importlib
import pkgutil
import types

import cnnbook

# cnnbook.fast is, by design, the core's functions again with the same names and signatures
# (CONTRIBUTING.md: "the same functions with the same signatures and results"); a property test
# holds each equal to its core twin (tests/test_fast.py, relu included).  These pairs are the only
# names allowed twice.
MIRRORS = {"cnnbook.fast": {"cnnbook.conv", "cnnbook.pool", "cnnbook.functional"}}


def package_modules() -> list[types.ModuleType]:
    """cnnbook and every module and subpackage in it (plot and widgets too)."""
    names = ["cnnbook", *(info.name for info in pkgutil.walk_packages(cnnbook.__path__, "cnnbook."))]
    assert {"cnnbook.specs", "cnnbook.layers", "cnnbook.architectures", "cnnbook.functional"} <= set(names)
    return [importlib.import_module(name) for name in sorted(set(names))]


def test_every_module_declares_its_public_names():
    for module in package_modules():
        public = getattr(module, "__all__", None)
        assert public is not None, f"{module.__name__} has no __all__"
        assert len(public) == len(set(public)), f"{module.__name__}.__all__ repeats a name"
        for name in public:
            assert hasattr(module, name), f"{module.__name__}.__all__ lists {name!r}, which it lacks"


def test_no_public_name_is_defined_twice():
    owners: dict[str, dict[int, str]] = {}  # name -> {id(object): module that defines it}
    for module in package_modules():
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, types.ModuleType):
                continue  # a submodule listed by its package is not a second definition
            # a function or class knows where it was defined; a re-export is the same object
            home = value.__module__ if isinstance(value, (type, types.FunctionType)) else module.__name__
            owners.setdefault(name, {}).setdefault(id(value), home)
    twice = {}
    for name, objects in owners.items():
        modules = set(objects.values())
        if len(objects) > 1 and not any(
            mirror in modules and modules - {mirror} <= twins for mirror, twins in MIRRORS.items()
        ):
            twice[name] = sorted(modules)
    assert twice == {}, f"public names defined in more than one module: {twice}"
    # the names the issue found defined twice now have one home each
    assert set(owners["Layer"].values()) == {"cnnbook.layers"}
    assert "relu" in owners and set(owners["relu"].values()) == {"cnnbook.functional", "cnnbook.fast"}
    assert set(owners["tanh"].values()) == {"cnnbook.functional"}
    assert set(owners["summary"].values()) == {"cnnbook.specs"}
