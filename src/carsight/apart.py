"""One function call in a Python process of its own, beside the caller's work.

Fits that would run side by side in threads are run here instead, where threads are unsafe or
unreproducible: LightGBM must never train in two threads of one process at once (concurrent native
training is not thread-safe: two fits side by side crashed a test run with a segmentation fault), and
liblinear draws its coordinate order from one process-wide generator (two SVMs fitting in threads
give results that change from run to run). In two processes each call is what it would be alone.

Not through ``multiprocessing``: its ``spawn`` re-runs the caller's main script (a script without a
``__main__`` guard, or code piped to Python, would break), and ``fork`` after LightGBM or DuckDB
started their thread pools may hang the child. The call is a plain ``python -P -m carsight.apart
FOLDER`` that reads the pickled function and arguments from, and writes its result to, a temporary
folder. The function must be defined at module level (pickle stores it by its import path).
Starting a process costs about two seconds of imports, so only calls that take longer belong here.
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

_INPUT = "input.pickle"
_OUTPUT = "output.pickle"
_LOG = "stderr.txt"


class Apart:
    """``function(*args, **kwargs)`` running in another Python process; :meth:`result` waits for it.

    The other process limits BLAS and OpenMP to one thread, as the pipeline steps that start it do.

    Parameters
    ----------
    function : callable
        A module-level function (pickled by name).
    *args, **kwargs
        Its arguments (pickled).
    """

    def __init__(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any):
        self._what = f"{function.__module__}.{function.__qualname__}"
        self._folder = tempfile.TemporaryDirectory(prefix="carsight-apart-")
        folder = Path(self._folder.name)
        (folder / _INPUT).write_bytes(pickle.dumps((function, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL))
        with open(folder / _LOG, "wb") as log:
            self._process = subprocess.Popen(
                # -P: the working folder is not put on the path (a folder named carsight there would shadow the package)
                [sys.executable, "-P", "-m", "carsight.apart", str(folder)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def result(self) -> Any:
        """The function's return value, once the other process is done.

        What the call logged is logged here, through the same loggers and their settings.

        Raises
        ------
        Exception
            The exception the function raised, as it raised it (its traceback there is in the notes).
        RuntimeError
            When the process itself failed (killed, crashed), with the end of what it wrote to stderr.
        """
        try:
            code = self._process.wait()
            folder = Path(self._folder.name)
            output = folder / _OUTPUT
            if code != 0 or not output.is_file():
                log = (folder / _LOG).read_text("utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"{self._what} failed in its own process (exit {code}):\n{log}")
            kind, value, records = pickle.loads(output.read_bytes())
        finally:
            self._folder.cleanup()
        # What the call logged there is logged here, as if it had run here.
        for record in records:
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
        if kind == "error":
            raise value
        return value

    def stop(self) -> None:
        """Stop the other process (its result is no longer wanted) and remove the folder."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._folder.cleanup()


def stop_all(processes: Iterable[Apart | None]) -> None:
    """Stop every process started (``None`` stands for one that was not).

    A caller that fails must not leave its other fits running.
    """
    for process in processes:
        if process is not None:
            process.stop()


class _Kept(logging.Handler):
    """Keeps the call's log records (their messages formatted) to send back to the caller."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None
        record.exc_text = self.format(record) if record.exc_info else None
        record.exc_info = None
        self.records.append(record)


def _call(folder: Path) -> None:
    function, args, kwargs = pickle.loads((folder / _INPUT).read_bytes())
    kept = _Kept()
    logging.getLogger().addHandler(kept)
    logging.getLogger().setLevel(logging.INFO)
    with threadpool_limits(1):
        try:
            output: tuple[str, Any] = ("value", function(*args, **kwargs))
        except Exception as exc:
            exc.add_note(f"in {function.__module__}.{function.__qualname__}, in its own process:")
            exc.add_note("".join(traceback.format_exception(exc)).rstrip())
            output = ("error", exc)
    try:
        data = pickle.dumps((*output, kept.records), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that cannot be pickled: its text, under a type that can
        if output[0] != "error":
            raise
        text = "".join(traceback.format_exception(output[1]))
        data = pickle.dumps(("error", RuntimeError(text), kept.records))
    partial = folder / (_OUTPUT + ".partial")
    partial.write_bytes(data)
    partial.replace(folder / _OUTPUT)


if __name__ == "__main__":
    _call(Path(sys.argv[1]))
