"""Loaded at interpreter start by ``synapsekit-instrument``: configure synapsekit from the environment."""

from __future__ import annotations

import importlib.util
import os
import sys


def _chain_to_next_sitecustomize() -> None:
    # Keep a sitecustomize of the application's environment working: load the next one on the path.
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == here:
            continue
        candidate = os.path.join(entry, "sitecustomize.py")
        if os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_synapsekit_chained_sitecustomize", candidate)
            if spec is not None and spec.loader is not None:
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            return


def _configure() -> None:
    try:
        from synapsekit.cli._autoinstrument import configure_from_env

        configure_from_env()
    except Exception as exc:
        # Zero-code mode must never stop the application from starting; say why it is uninstrumented.
        print(f"synapsekit-instrument: not instrumenting: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.environ.get("SYNAPSEKIT_STRICT"):
            raise


_chain_to_next_sitecustomize()
_configure()
