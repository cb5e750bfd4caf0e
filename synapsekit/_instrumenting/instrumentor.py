"""The instrumentor contract: what every ``instrumentation/<client>`` distribution implements.

An instrumentor names the client distribution and version range it supports, and patches the client in
:meth:`Instrumentor._instrument`. Patching is deferred with a post-import hook, so instrumenting works
whether the client is imported before or after; versions are checked from package metadata, without
importing the client.
"""

from __future__ import annotations

import abc
import importlib.metadata
import threading
from typing import Any, ClassVar

from synapsekit._core.errors import report_internal_error


class InstrumentationError(Exception):
    """A client the user asked to instrument is missing or out of the supported range."""


class Instrumentor(abc.ABC):
    """Subclass and register under the entry-point group ``synapsekit.instrumentors``.

    ``name``: the short name users pass to ``synapsekit.instrument("openai")``.
    ``distribution``: the client's distribution name, for the version check.
    ``supported``: a PEP 440 specifier of the supported client versions, e.g. ``">=2,<4"``.
    ``module``: the import name whose import triggers patching.
    """

    name: ClassVar[str]
    distribution: ClassVar[str]
    supported: ClassVar[str]
    module: ClassVar[str]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wanted = False
        self._applied = False
        self._hook_registered = False
        self._options: dict[str, Any] = {}

    # -- the contract ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def _instrument(self, **options: Any) -> None:
        """Apply the patches (the client module is imported by now)."""

    @abc.abstractmethod
    def _uninstrument(self) -> None:
        """Remove exactly the patches ``_instrument`` applied."""

    # -- provided ------------------------------------------------------------------------------------------------
    def installed_version(self) -> str | None:
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None

    def dependency_conflict(self) -> str | None:
        """Why this instrumentor cannot apply here, or None."""
        from packaging.specifiers import SpecifierSet
        from packaging.version import InvalidVersion, Version

        version = self.installed_version()
        if version is None:
            return f"{self.distribution} is not installed"
        try:
            if Version(version) not in SpecifierSet(self.supported):
                return f"{self.distribution} {version} is installed; synapsekit supports {self.supported}"
        except InvalidVersion:
            return f"{self.distribution} has an unparsable version {version!r}"
        return None

    @property
    def is_instrumented(self) -> bool:
        return self._wanted

    def instrument(self, **options: Any) -> None:
        """Patch the client now if it is imported, else as soon as it is; repeated calls are no-ops."""
        import wrapt

        with self._lock:
            if self._wanted:
                return
            self._wanted = True
            self._options = options
            register = not self._hook_registered
            self._hook_registered = True
        if register:
            # Hooks cannot be unregistered; the hook consults ``_wanted`` so uninstrument() still holds.
            wrapt.register_post_import_hook(self._on_import, self.module)
        else:
            import sys

            if self.module in sys.modules:
                self._on_import(sys.modules[self.module])

    def _on_import(self, module: Any) -> None:
        with self._lock:
            if not self._wanted or self._applied:
                return
            self._applied = True
        try:
            self._instrument(**self._options)
        except Exception as exc:
            # An instrumentor bug must never break the user's ``import``.
            self._applied = False
            report_internal_error(f"instrument:{self.name}", exc)

    def uninstrument(self) -> None:
        with self._lock:
            if not self._wanted:
                return
            self._wanted = False
            applied = self._applied
            self._applied = False
        if applied:
            self._uninstrument()
