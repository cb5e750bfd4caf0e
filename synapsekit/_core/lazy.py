"""Public names listed once: a package's ``__init__.pyi`` drives its lazy attributes and ``__all__``.

Type checkers read the stub's ``from <module> import Name as Name`` lines; at run time the same lines are
read (not imported) to build the name → module table behind PEP 562's ``__getattr__``, so ``import
synapsekit`` loads no submodule until a name is used. A regular expression rather than :mod:`ast` reads the
stub, because ``ast`` is not otherwise imported at ``import synapsekit``; ``tests/core/test_public_api.py``
checks that both read the same table.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from typing import Any

# ``from a.b import X as X, Y as Y`` or the parenthesised, multi-line form.
_FROM_IMPORT = re.compile(r"^from[ \t]+([\w.]+)[ \t]+import[ \t]+(?:\(([^)]*)\)|([^\n]+))", re.MULTILINE)
_COMMENT = re.compile(r"#[^\n]*")


def read_stub(stub_path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``{public name: defining module}`` table of a package stub's re-export imports."""
    table: dict[str, str] = {}
    # open() rather than pathlib: pathlib is not otherwise imported at ``import synapsekit``.
    with open(stub_path, encoding="utf-8") as stub:
        text = _COMMENT.sub("", stub.read())
    for match in _FROM_IMPORT.finditer(text):
        module, names = match.group(1), match.group(2) or match.group(3)
        for item in names.split(","):
            imported, _, bound = item.strip().partition(" as ")
            if imported:
                table[(bound or imported).strip()] = module
    return table


def attach_stub(
    package: str, init_file: str, namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for the package whose ``__init__.py`` is *init_file*.

    Each name is imported from its module on first access and then cached in the package's *namespace*.
    """
    table = read_stub(os.path.splitext(init_file)[0] + ".pyi")
    public = sorted(table)

    def __getattr__(name: str) -> Any:
        module_name = table.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return public

    return __getattr__, __dir__, public
