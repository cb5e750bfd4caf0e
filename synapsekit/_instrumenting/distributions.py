"""Installed distributions, read the cheap way: entry points of one group and versions, from one directory scan.

``synapsekit.instrument()`` needs two things from package metadata: the instrumentors registered under an
entry-point group, and the installed version of each instrumentor's client. ``importlib.metadata`` builds a
``Distribution`` per installed package and reads its files through several layers of objects — about 5 ms
for the entry points and 0.25 ms per version on a venv of ~140 packages, most of the few milliseconds that
instrumenting may take. Everything needed is in the ``site-packages`` listing itself: a distribution's
version is in its ``<name>-<version>.dist-info`` folder's name, and its entry points in that folder's
``entry_points.txt``, which only needs opening to see whether it mentions the group at all.

The scan gives the same answers as ``importlib.metadata`` (``tests/instrumenting/test_distributions.py``): the
first distribution of a name along ``sys.path`` wins, names compare normalised (PEP 503). Where it cannot be
sure of that — a ``sys.path`` entry that is a zip file, a finder on ``sys.meta_path`` that provides
distributions of its own, a metadata folder whose name carries no version — it answers ``None`` and the
caller asks ``importlib.metadata``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import stat
import sys
from collections.abc import Iterable
from typing import Any, NamedTuple, Protocol

# Neither ``importlib.metadata`` (which loads the email package, ~25 ms where nothing else has imported it), nor
# regular expressions nor dataclasses here: this module loads inside ``synapsekit.instrument()``, and
# compiling a pattern or generating a dataclass costs a tenth to half a millisecond each.


def normalized(name: str) -> str:
    """PEP 503: ``Google_GenAI``, ``google.genai`` and ``google--genai`` are one distribution."""
    name = name.lower().replace("_", "-").replace(".", "-")
    while "--" in name:
        name = name.replace("--", "-")
    return name


class EntryPoint(Protocol):
    """What discovery reads of an entry point: ``importlib.metadata.EntryPoint`` and :class:`ScannedEntryPoint`."""

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> str: ...

    @property
    def group(self) -> str: ...

    def load(self) -> Any: ...


class ScannedEntryPoint(NamedTuple):
    """An entry point read by the scan: ``name = module:attribute.path [extras]``, loaded as importlib loads it."""

    name: str
    value: str
    group: str

    def load(self) -> Any:
        target = self.value.split("[", 1)[0].strip()
        module_name, _, attribute = target.partition(":")
        found: Any = importlib.import_module(module_name.strip())
        for part in filter(None, attribute.strip().split(".")):
            found = getattr(found, part)
        return found


class InstalledDistribution(NamedTuple):
    name: str  # normalised
    version: str | None  # None: the folder's name does not carry it (a develop-mode ``.egg-info``)
    folder: str


# The last scan: the (directory, modification time) pairs it covered, and what it found.
_last_scan: tuple[tuple[tuple[str, int], ...], dict[str, InstalledDistribution]] | None = None


def installed() -> dict[str, InstalledDistribution] | None:
    """Every distribution visible on ``sys.path`` by normalised name, or None when only ``importlib.metadata`` can tell.

    Cached until ``sys.path`` or the modification time of one of its directories changes (installing or
    removing a package adds or removes a folder in one of them).
    """
    global _last_scan
    if not _plain_path_finders():
        return None
    key: list[tuple[str, int]] = []
    for entry in sys.path:
        directory = entry or "."
        try:
            status = os.stat(directory)
        except OSError:
            continue  # absent entries (``python311.zip``) hold nothing
        if not stat.S_ISDIR(status.st_mode):
            return None  # a zip archive on sys.path: its metadata is importlib's to read
        key.append((directory, status.st_mtime_ns))
    scan = _last_scan
    if scan is None or scan[0] != tuple(key):
        scan = (tuple(key), _scan(directory for directory, _ in key))
        _last_scan = scan
    return scan[1]


def _plain_path_finders() -> bool:
    """True when the finders that provide distributions all search the ``sys.path`` directories, as the scan does.

    That is the standard path finder, and the ``importlib_metadata`` backport's ``MetadataPathFinder``, which
    installs itself on ``sys.meta_path`` when imported (opentelemetry-api imports it) and searches the same
    directories the same way.
    """
    for finder in sys.meta_path:
        if finder is importlib.machinery.PathFinder:
            continue
        if getattr(finder, "find_distributions", None) is None:
            continue
        kind = type(finder)
        if (kind.__module__, kind.__qualname__) != ("importlib_metadata", "MetadataPathFinder"):
            return False
    return True


def _scan(directories: Iterable[str]) -> dict[str, InstalledDistribution]:
    found: dict[str, InstalledDistribution] = {}
    for directory in directories:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        # One cheap test per name (a site-packages holds hundreds), the finer ones only for metadata folders.
        for folder_name in [name for name in names if name.endswith("-info")]:
            if folder_name.endswith(".dist-info"):
                stem, version = _split(folder_name[: -len(".dist-info")])
            elif folder_name.endswith(".egg-info"):
                # ``name-version-pyX.Y.egg-info`` (an egg) or ``name.egg-info`` (develop mode): the version is
                # only in the first form.
                parts = folder_name[: -len(".egg-info")].split("-")
                stem, version = parts[0], (parts[1] if len(parts) > 1 else None)
            else:
                continue
            name = normalized(stem)
            if name not in found:  # the first along sys.path shadows the rest, as importlib.metadata has it
                found[name] = InstalledDistribution(name, version, f"{directory}/{folder_name}")
    return found


def _split(stem: str) -> tuple[str, str | None]:
    name, dash, version = stem.rpartition("-")
    if not dash or not name or not version:
        return stem, None
    return name, version


def version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None when it is not installed."""
    distributions = installed()
    if distributions is not None:
        found = distributions.get(normalized(name))
        if found is None:
            return None
        if found.version is not None:
            return found.version
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points registered under ``group``, in ``importlib.metadata.entry_points(group=...)``'s order."""
    distributions = installed()
    if distributions is None:
        import importlib.metadata

        return list(importlib.metadata.entry_points(group=group))
    header = f"[{group}]".encode()
    points: list[EntryPoint] = []
    for distribution in distributions.values():
        text = _read(os.path.join(distribution.folder, "entry_points.txt"))
        if text is None or header not in text:
            continue
        points.extend(_section(text.decode("utf-8"), group))
    return points


def _read(path: str) -> bytes | None:
    # os.open/os.read: no buffered text layer for a file that is usually absent or a few hundred bytes.
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks: list[bytes] = []
        while chunk := os.read(descriptor, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def _section(text: str, group: str) -> list[EntryPoint]:
    """The ``name = value`` lines of ``group``'s section of an ``entry_points.txt`` (an INI file)."""
    points: list[EntryPoint] = []
    inside = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            inside = line[1:-1].strip() == group
        elif inside and line and not line.startswith("#"):
            name, equals, value = line.partition("=")
            if equals:
                points.append(ScannedEntryPoint(name.strip(), value.strip(), group))
    return points
