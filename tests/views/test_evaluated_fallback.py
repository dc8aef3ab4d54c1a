"""Where a session cannot hold computed rows, a view's frame is written as it is (no Spark needed)."""

from __future__ import annotations

import pytest
from pyspark.errors import PySparkNotImplementedError

from anonymizer.views.errors import ViewEvaluationError
from anonymizer.views.materialize import evaluated


class _Frame:
    """A frame whose ``localCheckpoint`` raises what a session raises (Spark Connect 3.5, or a failing view)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def localCheckpoint(self, eager: bool = True) -> None:  # noqa: N802 - PySpark's name
        raise self.error


def test_a_session_without_checkpoints_gets_none_and_the_caller_writes_the_frame() -> None:
    # Positional: the keyword names differ between PySpark 3.5 (error_class) and 4.x (errorClass).
    unsupported = PySparkNotImplementedError(None, "NOT_IMPLEMENTED", {"feature": "x"})
    assert evaluated(_Frame(unsupported)) is None  # type: ignore[arg-type]
    assert evaluated(_Frame(NotImplementedError())) is None  # type: ignore[arg-type]


def test_other_failures_are_raised_and_view_errors_are_view_errors() -> None:
    with pytest.raises(OSError):
        evaluated(_Frame(OSError("disk full")))  # type: ignore[arg-type]
    failing = RuntimeError("[views] view 'v' column 'c': value is not a valid INT in resource r1 SQLSTATE")
    with pytest.raises(ViewEvaluationError, match="view 'v' column 'c'.*resource r1"):
        evaluated(_Frame(failing))  # type: ignore[arg-type]
