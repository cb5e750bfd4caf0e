"""The price-data preload: off the request path, and never importing alongside the application.

Each case runs in a fresh interpreter: what matters is which modules are imported by whom, and when.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any


def _run(script: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_preload_waits_for_the_application_to_import_what_genai_prices_shares_with_it() -> None:
    result = _run(
        """
        import json, sys, threading, time
        import synapsekit
        from synapsekit._pricing import preload as genai

        with synapsekit.track():  # something that prices: starts the preload
            pass
        time.sleep(0.5)
        before = {"genai_prices": "genai_prices" in sys.modules, "state": genai._preload_state}
        import openai  # the application's own import of pydantic and httpx2, on its own thread
        loaded = genai._preloaded.wait(60)
        print(json.dumps({"before": before, "loaded": loaded, "data": "genai_prices.data" in sys.modules,
                          "threads": [t.name for t in threading.enumerate() if "preload" in t.name]}))
        """
    )
    # Nothing of genai-prices (or pydantic, httpx2) imported in the background while the application might be
    # importing them; once it has, the data loads off the application's thread.
    assert result["before"] == {"genai_prices": False, "state": "waiting"}
    assert result["loaded"] is True
    assert result["data"] is True


def test_a_lookup_before_the_dependencies_are_imported_loads_on_its_own_thread() -> None:
    result = _run(
        """
        import json, sys, time
        import synapsekit
        from synapsekit._pricing import preload as genai, prices

        with synapsekit.track():
            pass
        time.sleep(0.2)
        waiting = genai._preload_state
        cost = prices.estimate_max_cost_nano("openai", "gpt-4o-mini", input_tokens=1000, max_output_tokens=0)
        genai._preloaded.wait(60)
        print(json.dumps({"waiting": waiting, "state": genai._preload_state, "cost": cost}))
        """
    )
    # The lookup took the load over (it did not wait for a preload that waits for imports) and the preload
    # stood down.
    assert result == {"waiting": "waiting", "state": "off", "cost": 150_000}


def test_with_the_sdk_imported_first_the_preload_loads_at_once() -> None:
    result = _run(
        """
        import json, sys
        import openai
        import synapsekit
        from synapsekit._pricing import preload as genai

        synapsekit.instrument("openai")
        loaded = genai._preloaded.wait(60)
        print(json.dumps({"loaded": loaded, "data": "genai_prices.data" in sys.modules}))
        """
    )
    assert result == {"loaded": True, "data": True}
