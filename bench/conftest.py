"""Benchmarks run with ``nox -s bench`` (pytest-benchmark). Each group pairs a baseline with synapsekit."""

from __future__ import annotations

import os

# Benchmarks measure production behaviour: internal errors are logged, not raised.
os.environ["SYNAPSEKIT_STRICT"] = "0"
