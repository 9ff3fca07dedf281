"""The Ray executor: the same shard function as the local pool, as Ray tasks.

Every shard task is idempotent (its files are renamed into place whole, its marker written last),
so Ray may retry a task whose worker died and the output is unchanged. The global steps' resolve
runs as a Ray task too, so the driver only schedules. Shards on a multi-node cluster need the
inputs and the output folder on storage every node sees.
"""

from __future__ import annotations

from typing import Any

from tamis.config import ExecutorOptions
from tamis.runner import progress
from tamis.runner.layout import Layout
from tamis.runner.passes import resolve_step
from tamis.runner.shard import ShardTask, run_shard
from tamis.step import GlobalStep

INSTALL_HINT = "the Ray executor needs Ray: pip install 'tamis[ray]'"


class RayUnavailable(RuntimeError):
    """Ray was asked for but is not installed."""


class RayPool:
    """Runs shard tasks on a Ray cluster (a local one when no address is given)."""

    def __init__(self, options: ExecutorOptions, counters: Any) -> None:
        try:
            import ray
        except ImportError:
            raise RayUnavailable(INSTALL_HINT) from None
        self.ray = ray
        self.counters = counters
        self.owns_cluster = not ray.is_initialized()
        if self.owns_cluster:
            ray.init(address=options.address, include_dashboard=False,
                     log_to_driver=False, logging_level="ERROR")
        resources: dict[str, Any] = {"num_cpus": options.cpus_per_task,
                                     "max_retries": options.max_retries}
        if options.memory_per_task:
            resources["memory"] = int(options.memory_per_task)
        self.shard_task = ray.remote(**resources)(run_shard)
        self.resolve_task = ray.remote(num_cpus=options.cpus_per_task,
                                       max_retries=options.max_retries)(resolve_step)
        self.resolve_cpus = max(int(options.cpus_per_task), 1)

    def run(self, tasks: list[ShardTask], display: progress.Display, already_done: int,
            on_failure: Any) -> None:
        ray = self.ray
        done = already_done
        display.update(done)
        references = {self.shard_task.remote(task): task for task in tasks}
        pending = list(references)
        while pending:
            ready, pending = ray.wait(pending, num_returns=len(pending), timeout=0.5)
            for reference in ready:
                try:
                    marker = ray.get(reference)
                except ray.exceptions.RayTaskError as error:
                    raise on_failure(references[reference], error.cause or error) from error
                except ray.exceptions.RayError as error:
                    raise on_failure(references[reference], error) from error
                self.counters[progress.DOCS] += marker["read"]
                self.counters[progress.KEPT] += marker["kept"]
                done += 1
            display.update(done)

    def resolve(self, step: GlobalStep, layout: Layout, pass_index: int,
                shard_count: int) -> tuple[int, str]:
        for member in step.members:  # threads within what the task reserves
            member.cpus = self.resolve_cpus
        return self.ray.get(self.resolve_task.remote(step, layout, pass_index, shard_count))

    def close(self) -> None:
        if self.owns_cluster:
            self.ray.shutdown()
