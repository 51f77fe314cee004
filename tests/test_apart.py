"""A call in a process of its own returns what it returns here, raises what it raises here (with its
traceback there in the notes), logs here what it logs there, says when the process itself died, and
leaves no folder behind."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import pytest

from carsight.apart import Apart


def test_the_value_and_the_exception_are_the_ones_the_call_gives_here():
    assert Apart(math.comb, 40, 20).result() == math.comb(40, 20)
    with pytest.raises(ValueError, match="invalid literal") as raised:
        Apart(int, "not a number").result()
    assert any("in its own process" in note for note in raised.value.__notes__)


def test_a_process_that_dies_is_a_runtime_error_and_a_stopped_one_leaves_no_folder():
    with pytest.raises(RuntimeError, match=r"posix._exit failed in its own process \(exit 3\)"):
        Apart(os._exit, 3).result()
    stopped = Apart(os.system, "sleep 30")
    folder = Path(stopped._folder.name)
    stopped.stop()
    assert not folder.exists() and stopped._process.returncode is not None


def test_what_the_call_logs_there_is_logged_here(caplog):
    with caplog.at_level(logging.WARNING):
        assert Apart(logging.warning, "CLV skipped: %s", "too thin").result() is None
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("WARNING", "CLV skipped: too thin")]
