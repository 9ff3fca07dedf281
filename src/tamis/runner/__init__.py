"""Running a pipeline: shards, passes, the local executor, resume and progress."""

from tamis.runner.job import RunError, RunResult, run

__all__ = ["RunError", "RunResult", "run"]
