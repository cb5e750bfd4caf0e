"""Post-import hooks: run a function once a module has been imported, without importing anything for it.

``synapsekit.instrument()`` patches each client when it is imported. wrapt has post-import hooks, but
``import wrapt`` loads ``asyncio``, ``inspect`` and ``importlib.metadata`` (with the email package): some 65 ms
in a process that has imported none of them yet, spent by ``instrument()`` for clients that may never be
imported. This module needs only what the interpreter has loaded at start-up; wrapt is imported when a
client is actually patched.

How: a finder first on ``sys.meta_path`` answers only for the names that have hooks. It asks the other
finders for the module's spec and wraps the spec's loader; once the wrapped loader has executed the
module, the hooks run with it. The module's ``__loader__`` and ``__spec__.loader`` are set back to the real
loader before the module executes, so nothing downstream ever sees the wrapper. Other post-import hook
finders (wrapt's, OpenTelemetry's through wrapt) chain with this one in either order: each re-enters the
import system, and a finder that is already resolving a name steps aside for it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from synapsekit._core.errors import report_internal_error

Hook = Callable[[ModuleType], None]

_lock = threading.Lock()
_hooks: dict[str, list[Hook]] = {}
_resolving = threading.local()  # the names this thread's finder is resolving (re-entry steps aside)
_finder: _PostImportFinder | None = None


def when_imported(name: str, hook: Hook) -> None:
    """Call ``hook(module)`` once module ``name`` has been imported — now, if it already is.

    A hook runs once: a module removed from ``sys.modules`` and imported again does not run it again.
    """
    global _finder
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _hooks.setdefault(name, []).append(hook)
            if _finder is None or _finder not in sys.meta_path:
                _finder = _PostImportFinder()
                sys.meta_path.insert(0, _finder)
            return
    hook(module)


def _run_hooks(name: str, module: ModuleType) -> None:
    with _lock:
        hooks = _hooks.pop(name, ())
    for hook in hooks:
        try:
            hook(module)
        except Exception as exc:
            # A hook's failure must never fail the application's ``import``.
            report_internal_error(f"import_hook:{name}", exc)


class _PostImportFinder:
    """Finds nothing itself: for a name with hooks, wraps the loader another finder found."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> Any:
        if fullname not in _hooks:  # the common case, a dict lookup per import
            return None
        resolving: set[str] = _resolving.__dict__.setdefault("names", set())
        if fullname in resolving:
            return None
        resolving.add(fullname)
        try:
            spec = self._spec_from_the_others(fullname, path, target)
        finally:
            resolving.discard(fullname)
        loader = getattr(spec, "loader", None)
        # A namespace package has no loader; a legacy loader without exec_module is left alone (its module
        # then imports unhooked, and the instrumentor patches nothing, rather than risking the import).
        if loader is not None and hasattr(loader, "exec_module") and not isinstance(loader, _HookedLoader):
            spec.loader = _HookedLoader(loader, fullname)
        return spec

    def _spec_from_the_others(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> Any:
        for finder in list(sys.meta_path):
            if finder is self:
                continue
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def invalidate_caches(self) -> None:
        """Nothing cached (``importlib.invalidate_caches()`` calls this on every finder)."""


class _HookedLoader:
    """The real loader, plus the hooks once the module has executed. Everything else is the real loader's."""

    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: Any) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return None if create is None else create(spec)

    def exec_module(self, module: ModuleType) -> None:
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        self._loader.exec_module(module)
        # The module as the import system will hand it out: a module may replace itself in sys.modules.
        _run_hooks(self._name, sys.modules.get(self._name, module))

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._loader, attribute)
