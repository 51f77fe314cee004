"""The topic classifier's held-out evaluation in a Python process of its own.

The VoC step fits its final classifier while :func:`carsight.voc.classify.evaluate` runs here, beside
it. Not in a thread: liblinear draws its coordinate order from one process-wide generator, so two
SVMs fitting in threads of one process give results that change from run to run, while in two
processes each fit is what it would be alone. Not through ``multiprocessing`` either: its ``spawn``
re-runs the caller's main script (a script without a ``__main__`` guard, or code piped to Python,
would break), so the evaluation is a plain ``python -m carsight.voc.held_out FOLDER`` that reads its
input from, and writes its report to, a temporary folder.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

from threadpoolctl import threadpool_limits

from carsight.errors import DataTooThinError

_INPUT = "input.pickle"
_OUTPUT = "output.pickle"
_LOG = "stderr.txt"


class EvaluationApart:
    """The held-out evaluation of a topic classifier, running in another process.

    :func:`carsight.voc.classify.evaluate` of a :class:`~carsight.voc.classify.TopicClassifier`;
    :meth:`result` waits for its report.

    Parameters
    ----------
    texts, labels : list of str
        The labelled texts and their topics.
    params : dict
        The classifier's parameters (``terms`` included).
    words : dict
        The tokenizer's word cache ({word: tokens}): with it the other process builds Kiwi only
        for words this one never analysed.
    """

    def __init__(self, texts: list[str], labels: list[str], params: dict, words: dict):
        self._folder = tempfile.TemporaryDirectory(prefix="carsight-voc-held-out-")
        folder = Path(self._folder.name)
        (folder / _INPUT).write_bytes(pickle.dumps((list(texts), list(labels), params, words)))
        with open(folder / _LOG, "wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "carsight.voc.held_out", str(folder)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def result(self) -> dict:
        """The evaluation report, once the other process is done.

        Raises
        ------
        DataTooThinError
            When the labels cannot be evaluated (raised there, passed on here).
        RuntimeError
            When the process failed, with the end of what it wrote to stderr.
        """
        try:
            code = self._process.wait()
            folder = Path(self._folder.name)
            output = folder / _OUTPUT
            if code != 0 or not output.is_file():
                log = (folder / _LOG).read_text("utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"the held-out evaluation of the topic classifier failed (exit {code}):\n{log}")
            kind, value = pickle.loads(output.read_bytes())
        finally:
            self._folder.cleanup()
        if kind == "too_thin":
            raise DataTooThinError(value)
        return value

    def stop(self) -> None:
        """Stop the other process (its report is no longer wanted) and remove the folder."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._folder.cleanup()


def _evaluate(folder: Path) -> None:
    from carsight.voc.classify import TopicClassifier, evaluate
    from carsight.voc.tokenise import Tokenizer

    texts, labels, params, words = pickle.loads((folder / _INPUT).read_bytes())
    # One BLAS/OpenMP thread, as in the VoC step that started this process.
    with threadpool_limits(1):
        Tokenizer(params["terms"])._cache.update(words)
        try:
            output = ("report", evaluate(texts, labels, classifier=TopicClassifier(**params)))
        except DataTooThinError as exc:
            output = ("too_thin", str(exc))
    partial = folder / (_OUTPUT + ".partial")
    partial.write_bytes(pickle.dumps(output))
    partial.replace(folder / _OUTPUT)


if __name__ == "__main__":
    _evaluate(Path(sys.argv[1]))
