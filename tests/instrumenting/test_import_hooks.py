"""Post-import hooks: when they run, what the imported module looks like afterwards, and coexistence with wrapt's."""

from __future__ import annotations

import importlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import wrapt

from synapsekit._core.errors import set_strict
from synapsekit._instrumenting.import_hooks import when_imported


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path for throwaway modules, which are removed from sys.modules afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_a_hook_runs_once_after_the_module_has_executed(modules: Path) -> None:
    (modules / "hooked_plain.py").write_text("VALUE = 41\nVALUE += 1\n")
    seen: list[tuple[str, int]] = []
    when_imported("hooked_plain", lambda module: seen.append((module.__name__, module.VALUE)))
    assert seen == []
    module = importlib.import_module("hooked_plain")
    assert seen == [("hooked_plain", 42)]
    # The module carries the real loader, not ours.
    assert type(module.__loader__).__name__ == "SourceFileLoader"
    assert module.__spec__ is not None and module.__spec__.loader is module.__loader__
    # Imported again (removed and re-imported), the hook does not run again.
    del sys.modules["hooked_plain"]
    importlib.import_module("hooked_plain")
    assert seen == [("hooked_plain", 42)]


def test_a_hook_for_an_imported_module_runs_at_once(modules: Path) -> None:
    (modules / "hooked_early.py").write_text("NAME = 'early'\n")
    module = importlib.import_module("hooked_early")
    seen: list[ModuleType] = []
    when_imported("hooked_early", seen.append)
    assert seen == [module]


def test_hooks_on_a_submodule_and_on_its_package(modules: Path) -> None:
    package = modules / "hooked_pkg"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "leaf.py").write_text("LEAF = True\n")
    order: list[str] = []
    when_imported("hooked_pkg.inner.leaf", lambda module: order.append(module.__name__))
    when_imported("hooked_pkg", lambda module: order.append(module.__name__))
    importlib.import_module("hooked_pkg.inner.leaf")
    assert order == ["hooked_pkg", "hooked_pkg.inner.leaf"]


def test_a_module_that_replaces_itself_is_handed_over_as_imported(modules: Path) -> None:
    (modules / "hooked_replacing.py").write_text(
        "import sys, types\nreplacement = types.ModuleType('hooked_replacing')\nreplacement.REPLACED = True\n"
        "sys.modules[__name__] = replacement\n"
    )
    seen: list[ModuleType] = []
    when_imported("hooked_replacing", seen.append)
    imported = importlib.import_module("hooked_replacing")
    assert seen == [imported] and imported.REPLACED is True


def test_a_failing_hook_does_not_fail_the_import(modules: Path, caplog: pytest.LogCaptureFixture) -> None:
    (modules / "hooked_failing.py").write_text("OK = 1\n")

    def broken(module: ModuleType) -> None:
        raise RuntimeError("hook bug")

    ran: list[str] = []
    when_imported("hooked_failing", broken)
    when_imported("hooked_failing", lambda module: ran.append("second"))
    set_strict(False)
    try:
        assert importlib.import_module("hooked_failing").OK == 1
    finally:
        set_strict(True)
    assert ran == ["second"]  # the hooks after a failed one still run
    assert "import_hook:hooked_failing" in caplog.text and "hook bug" in caplog.text


def test_an_import_error_is_the_import_systems_own(modules: Path) -> None:
    when_imported("hooked_missing", lambda module: None)
    with pytest.raises(ModuleNotFoundError, match="hooked_missing"):
        importlib.import_module("hooked_missing")
    (modules / "hooked_broken.py").write_text("raise ValueError('broken module')\n")
    seen: list[ModuleType] = []
    when_imported("hooked_broken", seen.append)
    with pytest.raises(ValueError, match="broken module"):
        importlib.import_module("hooked_broken")
    assert seen == []


@pytest.mark.parametrize("wrapt_first", [True, False])
def test_wrapt_hooks_and_ours_both_run_in_either_order(modules: Path, wrapt_first: bool) -> None:
    name = f"hooked_both_{int(wrapt_first)}"
    (modules / f"{name}.py").write_text("X = 1\n")
    order: list[str] = []
    register_ours = lambda: when_imported(name, lambda module: order.append("ours"))  # noqa: E731
    register_wrapt = lambda: wrapt.register_post_import_hook(lambda module: order.append("wrapt"), name)  # noqa: E731
    for register in (register_wrapt, register_ours) if wrapt_first else (register_ours, register_wrapt):
        register()
    module = importlib.import_module(name)
    assert sorted(order) == ["ours", "wrapt"]
    assert module.__spec__ is not None and type(module.__spec__.loader).__name__ == "SourceFileLoader"


def test_concurrent_imports_run_each_hook_once(modules: Path) -> None:
    (modules / "hooked_threads.py").write_text("import time\ntime.sleep(0.05)\n")
    calls: list[str] = []
    when_imported("hooked_threads", lambda module: calls.append(module.__name__))
    threads = [threading.Thread(target=importlib.import_module, args=("hooked_threads",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["hooked_threads"]


def test_instrument_before_any_client_import_loads_no_wrapt_asyncio_or_metadata() -> None:
    """``synapsekit.instrument()`` in a fresh process imports nothing heavy the application has not imported;
    importing openai afterwards patches it (wrapt loads then)."""
    script = (
        "import sys, synapsekit\n"
        "synapsekit.instrument()\n"
        "print(sorted(m for m in ('wrapt', 'asyncio', 'inspect', 'importlib.metadata', 'email', 'openai')"
        " if m in sys.modules))\n"
        "import openai, openai._base_client as base\n"
        "from synapsekit.plugin import is_synapsekit_wrapper\n"
        "print(is_synapsekit_wrapper(vars(base.SyncAPIClient)['request']), type(openai.__loader__).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "True SourceFileLoader"]
