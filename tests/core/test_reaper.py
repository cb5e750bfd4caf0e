"""Abandoned calls are ended on the reaper thread, never inside the garbage collector's finalizers."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading

import pytest

from synapsekit._core import errors, reaper
from synapsekit._core.call import start_call
from synapsekit._core.errors import set_strict
from synapsekit.plugin import SyncStreamProxy, abandon_when_collected
from synapsekit.testing import collect_garbage

from .conftest import RecordingSink


class _Response:
    """Something a caller may drop unread (a raw HTTP response, in the openai instrumentation)."""


class _Recorded:
    def __init__(self, fail: bool = False) -> None:
        self.threads: list[str] = []
        self.fail = fail

    def abandon(self) -> None:
        self.threads.append(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("abandon failed")


def test_a_collected_object_abandons_its_call_on_the_reaper_thread() -> None:
    call = _Recorded()
    response = _Response()
    abandon_when_collected(response, call)
    del response
    collect_garbage()
    assert call.threads == ["synapsekit-reaper"]


def test_a_detached_finalizer_abandons_nothing() -> None:
    call = _Recorded()
    response = _Response()
    abandon_when_collected(response, call).detach()
    del response
    collect_garbage()
    assert call.threads == []


def _dropped_stream(*, in_a_cycle: bool) -> object:
    """A stream read one chunk and dropped; its call. In a cycle, only the collector can free the proxy."""
    call = start_call("synapsekit", "chat", "m", streamed=True, prompt="one two three four")
    proxy = SyncStreamProxy(iter(["a", "b"]), call)
    next(proxy)
    if in_a_cycle:
        cycle: list[object] = [proxy]
        cycle.append(cycle)
    return call


def test_a_stream_whose_last_reference_is_dropped_is_ended_at_once_in_place(sink: RecordingSink) -> None:
    call = _dropped_stream(in_a_cycle=False)
    assert sink.ended == [
        call
    ]  # no collection, no waiting: ended when the caller let go of it, on this thread
    assert (call.usage_estimated, call.input_tokens, call.output_tokens, call.chunks) == (True, 5, 0, 1)


def test_a_stream_the_collector_frees_is_ended_once_by_the_reaper(
    sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    end = reaper._end
    monkeypatch.setattr(
        reaper, "_end", lambda abandon: (threads.append(threading.current_thread().name), end(abandon))
    )
    call = _dropped_stream(in_a_cycle=True)
    collect_garbage()
    assert sink.ended == [call]
    assert threads == ["synapsekit-reaper"]
    assert (call.usage_estimated, call.input_tokens, call.output_tokens, call.chunks) == (True, 5, 0, 1)


def test_a_finished_stream_hands_nothing_over(sink: RecordingSink, monkeypatch: pytest.MonkeyPatch) -> None:
    handed: list[object] = []
    monkeypatch.setattr(reaper, "hand_over", handed.append)
    call = start_call("synapsekit", "chat", "m", streamed=True)
    proxy = SyncStreamProxy(iter(["a"]), call)
    assert list(proxy) == ["a"]
    del proxy
    collect_garbage()
    assert handed == []
    assert sink.ended == [call]


def test_an_error_ending_a_call_is_raised_by_the_next_drain_in_strict_mode_and_the_reaper_lives_on() -> None:
    failing, after = _Recorded(fail=True), _Recorded()
    first, second = _Response(), _Response()
    abandon_when_collected(first, failing)
    del first
    with pytest.raises(RuntimeError, match="abandon failed"):
        collect_garbage()
    abandon_when_collected(second, after)
    del second
    collect_garbage()
    assert (failing.threads, after.threads) == (["synapsekit-reaper"], ["synapsekit-reaper"])


def test_an_error_ending_a_call_is_logged_once_when_not_strict(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(errors, "_reported_sites", set())  # once per process: not already by another test
    caplog.set_level(logging.DEBUG, logger="synapsekit")
    set_strict(False)
    try:
        for _ in range(2):
            response = _Response()
            abandon_when_collected(response, _Recorded(fail=True))
            del response
            collect_garbage()
    finally:
        set_strict(True)
    logged = [record.levelname for record in caplog.records if "stream.abandoned" in record.getMessage()]
    assert logged == ["WARNING", "DEBUG"]  # the first at warning level, then quietly


def _run(script: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_a_stream_dropped_just_before_the_interpreter_exits_is_still_reported() -> None:
    out = _run(
        """
        import atexit

        # Registered first, so it runs last (atexit runs last-in first-out): after synapsekit's own exit work.
        atexit.register(lambda: print("ended", len(recorder.ended), call.input_tokens))

        from synapsekit.plugin import SyncStreamProxy, start_call
        from synapsekit.testing import CallRecorder

        import gc

        recorder = CallRecorder().__enter__()
        call = start_call("synapsekit", "chat", "m", streamed=True, prompt="one two three four")
        proxy = SyncStreamProxy(iter(["a", "b"]), call)
        next(proxy)
        cycle = [proxy]
        cycle.append(cycle)
        del proxy, cycle
        gc.collect()  # the collector finalizes it: handed over, and the interpreter exits at once
        """
    )
    assert out.strip() == "ended 1 5"


def test_a_forked_child_ends_its_own_abandoned_streams() -> None:
    out = _run(
        """
        import os
        from synapsekit.plugin import SyncStreamProxy, start_call
        from synapsekit.testing import CallRecorder, collect_garbage

        def dropped():
            call = start_call("synapsekit", "chat", "m", streamed=True, prompt="one two three four")
            proxy = SyncStreamProxy(iter(["a", "b"]), call)
            next(proxy)
            cycle = [proxy]
            cycle.append(cycle)  # freed by the collector: handed over to the process's reaper
            return call

        with CallRecorder() as recorder:
            dropped()  # the parent's reaper is running from here on
            collect_garbage()
            pid = os.fork()
            if pid == 0:
                dropped()
                collect_garbage()
                os._exit(0 if len(recorder.ended) == 2 else 1)
            _, status = os.waitpid(pid, 0)
            print(os.waitstatus_to_exitcode(status), len(recorder.ended))
        """
    )
    assert out.strip() == "0 1"
