"""Suite-wide settings for every test directory (tests/, instrumentation/*/tests/).

Internal errors are raised, not logged, so bugs surface. ``span_exporter`` gives tests the spans recorded by
one process-wide OpenTelemetry SDK tracer provider (a provider can be installed only once per process).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("SYNAPSEKIT_STRICT", "1")

from synapsekit._core.errors import set_strict

set_strict(True)


@pytest.fixture
def span_exporter() -> Iterator[Any]:
    from synapsekit.testing._span_capture import install_global_span_capture

    exporter = install_global_span_capture()
    exporter.clear()
    yield exporter
    exporter.clear()
