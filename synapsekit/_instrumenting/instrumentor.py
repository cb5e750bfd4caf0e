"""The instrumentor contract: what every ``instrumentation/<client>`` distribution implements.

An instrumentor names the client distribution and version range it supports, and patches the client in
:meth:`Instrumentor._instrument`. Patching is deferred with a post-import hook, so instrumenting works
whether the client is imported before or after; versions are checked from package metadata, without
importing the client.
"""

from __future__ import annotations

import abc
import operator
import re
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from synapsekit._core.errors import report_internal_error
from synapsekit._instrumenting.import_hooks import when_imported


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
        return _distribution_version(self.distribution)

    def dependency_conflict(self) -> str | None:
        """Why this instrumentor cannot apply here, or None."""
        version = self.installed_version()
        if version is None:
            return f"{self.distribution} is not installed"
        supported = _in_plain_range(version, self.supported)
        if supported is None:
            from packaging.specifiers import SpecifierSet
            from packaging.version import InvalidVersion, Version

            try:
                supported = Version(version) in SpecifierSet(self.supported)
            except InvalidVersion:
                return f"{self.distribution} has an unparsable version {version!r}"
        if not supported:
            return f"{self.distribution} {version} is installed; synapsekit supports {self.supported}"
        return None

    @property
    def is_instrumented(self) -> bool:
        return self._wanted

    def instrument(self, **options: Any) -> None:
        """Patch the client now if it is imported, else as soon as it is; repeated calls are no-ops."""
        with self._lock:
            if self._wanted:
                return
            self._wanted = True
            self._options = options
            register = not self._hook_registered
            self._hook_registered = True
        if register:
            # A hook runs once and cannot be withdrawn; it consults ``_wanted`` so uninstrument() still holds.
            when_imported(self.module, self._on_import)
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


def _distribution_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None when it is not installed.

    ``synapsekit.instrument()`` asks once for every installed instrumentor's client; the answers come from one
    cached scan of the ``sys.path`` directories (:mod:`synapsekit._instrumenting.distributions`), not from
    ``importlib.metadata.version``, which parses the whole METADATA file per distribution.
    """
    from synapsekit._instrumenting.distributions import version

    return version(name)


_PLAIN_CLAUSE = re.compile(r"\s*(>=|<=|==|!=|<|>)\s*(\d+(?:\.\d+)*)\s*")
_COMPARISONS: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}


def _in_plain_range(version: str, specifier: str) -> bool | None:
    """Whether release ``version`` (``3.57.0``) meets ``specifier`` (``>=2,<4``); None for anything else.

    The version check runs for every installed instrumentor in ``synapsekit.instrument()``, and importing
    ``packaging`` costs several milliseconds of the few that instrumenting may take. Plain releases against
    plain comparisons (the specifiers instrumentors declare) compare as zero-padded integer tuples, as PEP 440
    has it; pre-, post-, dev- and local versions, wildcards and ``~=`` are left to ``packaging`` (None).
    """
    parts = version.split(".")
    if not all(part.isascii() and part.isdigit() for part in parts):
        return None
    release = tuple(int(part) for part in parts)
    for clause in specifier.split(","):
        matched = _PLAIN_CLAUSE.fullmatch(clause)
        if matched is None:
            return None
        bound = tuple(int(part) for part in matched.group(2).split("."))
        width = max(len(release), len(bound))
        padded, bound = release + (0,) * (width - len(release)), bound + (0,) * (width - len(bound))
        if not _COMPARISONS[matched.group(1)](padded, bound):
            return False
    return True
