"""The directory scan behind instrumentor discovery answers exactly what ``importlib.metadata`` answers."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synapsekit._instrumenting import distributions
from synapsekit._instrumenting.instrument import ENTRY_POINT_GROUP

GROUP = "synapsekit.tests.scan"


def entry_point_pairs(points: list[importlib.metadata.EntryPoint]) -> list[tuple[str, str, str]]:
    return [(point.name, point.value, point.group) for point in points]


def write_dist_info(directory: Path, folder: str, name: str, version: str, entry_points: str | None) -> None:
    info = directory / folder
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Two directories put in front of sys.path, the first shadowing the second."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.setattr(sys, "path", [str(first), str(second), *sys.path])
    return first, second


def test_every_entry_point_group_of_this_environment_matches_importlib() -> None:
    for group in (ENTRY_POINT_GROUP, "console_scripts", "pytest11", "no.such.group"):
        assert entry_point_pairs(distributions.entry_points(group)) == entry_point_pairs(
            list(importlib.metadata.entry_points(group=group))
        ), group


def test_every_installed_version_matches_importlib() -> None:
    for found in importlib.metadata.distributions():
        name = found.metadata["Name"]
        assert distributions.version(name) == importlib.metadata.version(name), name


def test_sections_names_shadowing_and_normalisation(site: tuple[Path, Path]) -> None:
    first, second = site
    write_dist_info(
        first,
        "Alpha_Plugin-1.2.3.dist-info",
        "Alpha.Plugin",
        "1.2.3",
        "[console_scripts]\nalpha = alpha:main\n\n"
        f"[{GROUP}]\n# a comment\none = alpha.one:One\ntwo=alpha.two:Two [extra]\n\n"
        "[other]\nthree = alpha:three\n",
    )
    # Shadowed by the first directory's distribution of the same (normalised) name: never read.
    write_dist_info(
        second, "alpha_plugin-0.9.dist-info", "alpha-plugin", "0.9", f"[{GROUP}]\nold = alpha_old:Old\n"
    )
    write_dist_info(second, "beta-2.0.dist-info", "beta", "2.0", f"[{GROUP}]\nbeta = beta:Beta\n")
    write_dist_info(second, "gamma-3.0.dist-info", "gamma", "3.0", None)  # no entry_points.txt at all

    points = distributions.entry_points(GROUP)
    assert entry_point_pairs(points) == [
        ("one", "alpha.one:One", GROUP),
        ("two", "alpha.two:Two [extra]", GROUP),
        ("beta", "beta:Beta", GROUP),
    ]
    assert entry_point_pairs(points) == entry_point_pairs(list(importlib.metadata.entry_points(group=GROUP)))
    for name, version in (("alpha-plugin", "1.2.3"), ("ALPHA__plugin", "1.2.3"), ("Alpha.Plugin", "1.2.3")):
        assert distributions.version(name) == version == importlib.metadata.version(name)
    assert distributions.version("beta") == "2.0"
    assert distributions.version("gamma") == "3.0"
    assert distributions.version("delta") is None


@pytest.mark.parametrize(
    "value",
    [
        "json",
        "json:JSONDecoder",
        "json.decoder : JSONDecoder.decode",
        "json:JSONDecoder.decode [extra, other]",
    ],
)
def test_a_scanned_entry_point_loads_what_importlib_loads(value: str) -> None:
    scanned = distributions.ScannedEntryPoint("name", value, GROUP)
    assert scanned.load() is importlib.metadata.EntryPoint("name", value, GROUP).load()


def test_discovery_needs_no_importlib_metadata() -> None:
    """Where no application module has loaded importlib.metadata (and with it the email package), neither does
    ``synapsekit.instrument()``."""
    script = (
        "import sys, synapsekit; synapsekit.instrument(); "
        "print(sorted(name for name in sys.modules if name.startswith(('importlib.metadata', 'email'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_a_package_installed_after_the_first_scan_is_seen(site: tuple[Path, Path]) -> None:
    first, _ = site
    assert distributions.version("late-package") is None
    write_dist_info(
        first, "late_package-0.1.dist-info", "late-package", "0.1", f"[{GROUP}]\nlate = late:Late\n"
    )
    assert distributions.version("late-package") == "0.1"
    assert entry_point_pairs(distributions.entry_points(GROUP)) == [("late", "late:Late", GROUP)]


def test_an_egg_info_folder_without_a_version_in_its_name_is_read_by_importlib(
    site: tuple[Path, Path],
) -> None:
    first, _ = site
    info = first / "develop_mode.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: develop-mode\nVersion: 4.5.6\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\ndev = develop:Dev\n")
    assert distributions.installed() is not None
    assert distributions.version("develop-mode") == "4.5.6"
    assert entry_point_pairs(distributions.entry_points(GROUP)) == [("dev", "develop:Dev", GROUP)]


def test_a_zip_archive_on_sys_path_hands_everything_to_importlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(
            "zipped_dist-7.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped-dist\nVersion: 7.0\n"
        )
        zipped.writestr("zipped_dist-7.0.dist-info/entry_points.txt", f"[{GROUP}]\nz = zipped:Z\n")
    monkeypatch.setattr(sys, "path", [str(archive), *sys.path])
    assert distributions.installed() is None
    assert distributions.version("zipped-dist") == "7.0"
    assert entry_point_pairs(distributions.entry_points(GROUP)) == [("z", "zipped:Z", GROUP)]


def test_the_importlib_metadata_backport_finder_searches_what_the_scan_searches() -> None:
    """``importlib_metadata`` (a dependency of opentelemetry-api) installs its own path finder, which reads the
    same sys.path directories: the scan stays in use with it on ``sys.meta_path``."""
    import importlib_metadata  # installs its finder on sys.meta_path

    assert any(isinstance(finder, importlib_metadata.MetadataPathFinder) for finder in sys.meta_path)
    assert distributions.installed() is not None


def test_a_finder_that_provides_distributions_hands_everything_to_importlib(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Provided(importlib.metadata.Distribution):
        def read_text(self, filename: str) -> str | None:
            if filename == "METADATA":
                return "Metadata-Version: 2.1\nName: provided\nVersion: 8.1\n"
            if filename == "entry_points.txt":
                return f"[{GROUP}]\np = provided:P\n"
            return None

        def locate_file(self, path: Any) -> Any:
            return path

    class ProvidingFinder:
        @staticmethod
        def find_spec(*args: Any) -> None:
            return None

        @staticmethod
        def find_distributions(context: Any = None) -> Iterator[importlib.metadata.Distribution]:
            name = getattr(context, "name", None)
            if name is None or distributions.normalized(name) == "provided":
                yield Provided()

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, ProvidingFinder])
    assert distributions.installed() is None
    assert distributions.version("provided") == "8.1"
    assert ("p", "provided:P", GROUP) in entry_point_pairs(distributions.entry_points(GROUP))
