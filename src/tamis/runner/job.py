"""`tamis.run`: plan the shards, run every pass, resolve global steps, write the manifest.

The runner owns the order of work and nothing else: what happens to a shard is in `shard.py`,
where files go is in `layout.py`. A rerun of the same command resumes: shards whose completion
marker exists are skipped, and the final output is the same as an uninterrupted run's.
"""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import tamis
from tamis.config import Config, load_config
from tamis.io.inputs import InputFile, Shard, discover, plan_shards
from tamis.io.schema import schema_for
from tamis.orphans import die_with_parent
from tamis.outofcore import value_counts
from tamis.plugins import PluginError, worker_modules
from tamis.plugins import identity as plugins_identity
from tamis.plugins import resolve as resolve_plugin
from tamis.report.aggregate import cluster_summary, environment_versions, merge
from tamis.runner import progress
from tamis.runner.layout import RECORD_KINDS, Layout, OutputError
from tamis.runner.passes import resolve_step, split_into_segments
from tamis.runner.shard import ShardTask, run_shard
from tamis.step import GlobalStep, Reader, Step, readers


class RunError(RuntimeError):
    """A run could not finish (a worker died); rerunning the same command resumes it."""


class Terminated(KeyboardInterrupt):
    """The run was asked to stop by a signal (SIGTERM, SIGHUP): it stops as on Ctrl-C, its
    workers are ended and its lock released, and rerunning the same command resumes it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class RunResult:
    """What a finished run produced: where, and the counts that add up."""

    output: Path
    counts: dict[str, Any]
    manifest: dict[str, Any]
    resumed: bool = False
    warnings: list[str] = field(default_factory=list)


def run(inputs: str | Path | Iterable[str | Path], output: str | Path, *,
        preset: str | None = None, config: str | Path | Config | None = None,
        workers: int | None = None, limit: int | None = None, overwrite: bool = False,
        quiet: bool = True, executor: str | None = None, address: str | None = None,
        plugins: list[str] | None = None, sample: float | None = None) -> RunResult:
    """Run a pipeline over `inputs` and write records under `output`.

    `config` is a YAML path extending the preset, or a ready `Config`. `workers` defaults to the
    number of CPUs; it never changes the output. `limit` stops after that many records, in input
    order. `executor` (`local` or `ray`) and `address` (a Ray cluster) override the config's
    `executor:` section; they never change the output either. `plugins` (files or modules
    whose import registers steps and readers) are added to the config's. `sample` keeps that
    fraction of the input records, chosen by a hash of their id (`input.sample`).
    """
    started = time.time()
    if isinstance(inputs, str | Path):
        inputs = [inputs]
    inputs = [str(item) for item in inputs]
    if not isinstance(config, Config):
        config = load_config(preset, config, plugins=plugins)
    elif plugins:
        added = [resolve_plugin(plugin) for plugin in plugins]
        config = config.model_copy(update={"plugins": [
            *config.plugins, *(plugin for plugin in added if plugin not in config.plugins)]})
    if sample is not None:
        config = config.model_copy(update={"input": config.input.model_copy(
            update={"sample": sample})})
    if executor is not None or address is not None:
        chosen = {key: value for key, value in (("kind", executor), ("address", address))
                  if value is not None}
        if address is not None and executor is None:
            chosen["kind"] = "ray"
        config = config.model_copy(update={"executor": config.executor.model_copy(
            update=chosen)})
    workers = workers or os.cpu_count() or 1
    # The output folder may sit inside an input folder: its files are never inputs.
    files, ignored = discover(inputs, config.input, exclude=str(output))
    shards = plan_shards(files, config.input)
    plan = [shard.describe() for shard in shards]
    steps = config.build_steps()
    segments = split_into_segments(steps)
    # The passes' shape is part of what the work files mean (a resume must not mix two shapes).
    passes = [segment.ends_with.name if segment.ends_with else None for segment in segments]
    facts = {"config": config.fingerprint(), "plan": plan, "limit": limit, "passes": passes}
    code = plugins_identity([type(step) for step in steps] + _readers_of(files))
    if code:  # the user's own steps and readers: an edited plugin is another run
        facts["plugins"] = code
    fingerprint = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]
    # After the fingerprint: the modules the workers must import depend on their number.
    config = _reachable_by_workers(config, steps, files, workers, len(shards))
    layout = Layout.for_output(output)
    with layout.lock(), _stopped_by_signals():
        resumed = layout.prepare(fingerprint, {"config": config.model_dump(mode="json"),
                                               "limit": limit, "plan": plan}, overwrite)
        if resumed and layout.fetch(layout.manifest):
            manifest = json.loads(layout.manifest.read_text("utf-8"))
            return RunResult(Path(output), manifest["counts"], manifest, resumed=True)
        # The record schema, declared before the first document (docs/output.md).
        layout.write_json(layout.root / "schema.json",
                          schema_for(steps, config.output.fields).describe())
        _run_passes(layout, config, shards, segments, workers, limit, quiet)
        manifest = _finish(layout, config, shards, files, ignored, len(segments), limit,
                           fingerprint, started)
    warnings = _warnings(manifest, output)
    if manifest["duplicate_ids"]["count"]:
        warnings.append(f"{manifest['duplicate_ids']['count']} records share their id with an "
                        f"earlier record (kept as they are; see manifest.json duplicate_ids)")
    return RunResult(Path(output), manifest["counts"], manifest, resumed, warnings)


def _warnings(manifest: dict[str, Any], output: str | Path) -> list[str]:
    """What the user should know about a finished run: inputs passed over, records lost to
    errors (both are counted in the manifest; the terminal says so once)."""
    warnings = []
    ignored = manifest["ignored_inputs"]
    if ignored:
        shown = ", ".join(ignored[:3]) + (", ..." if len(ignored) > 3 else "")
        warnings.append(f"{len(ignored)} file(s) in the input folders are of no kind tamis "
                        f"reads and were passed over ({shown}; all are listed in "
                        f"manifest.json ignored_inputs)")
    errors = manifest["counts"]["errors"]
    if errors:
        warnings.append(f"{errors} record(s) could not be read or processed; each is in "
                        f"{str(output).rstrip('/')}/errors/ with the file, the place and why")
    return warnings


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP stop the run as Ctrl-C does (so its workers end and its lock is
    released) instead of killing this process with its workers left running. Only where the
    signal's action is still the default, and only in the main thread (Python's rule)."""
    installed = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) is signal.SIG_DFL:
                installed[signum] = signal.signal(signum, _raise_terminated)
    try:
        yield
    finally:
        for signum, previous in installed.items():
            signal.signal(signum, previous)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


def _run_passes(layout: Layout, config: Config, shards: list[Shard], segments: list[Any],
                workers: int, limit: int | None, quiet: bool) -> None:
    """Every pass over the shards not done yet, each followed by its global step's resolve."""
    counters = multiprocessing.get_context("spawn").Array("q", 3)
    display = progress.Display(counters, quiet)
    pool = _make_pool(config, min(workers, len(shards)), counters)
    try:
        for pass_index, segment in enumerate(segments):
            label = (f"pass {pass_index + 1}/{len(segments)}" if len(segments) > 1 else "run")
            tasks = [ShardTask(layout.where, config, shard, pass_index)
                     for shard in shards if layout.read_marker(pass_index, shard.index) is None]
            display.start_phase(label, len(shards))
            if pass_index == 0 and limit is not None:
                _run_limited(tasks, layout, limit, display, len(shards) - len(tasks))
            else:
                pool.run(tasks, display, len(shards) - len(tasks), _failure)
            if pass_index + 1 < len(segments):
                _rebuild_corrupt(layout, config, shards, pass_index, pool, display)
            resolved = layout.resolved_marker(pass_index)
            if segment.ends_with is not None and not _resolved_intact(layout, pass_index):
                display.message(f"resolving {segment.ends_with.name}")
                removed, digest = pool.resolve(segment.ends_with, layout, pass_index,
                                               len(shards))
                decisions_file = layout.decisions_file(pass_index)
                layout.write_json(resolved, {
                    "documents_removed": removed,
                    "files": {str(decisions_file.relative_to(layout.root)): digest}})
    except BaseException:
        # Interrupted or failed: end the workers now rather than wait for their shards (a
        # rerun redoes unfinished shards anyway).
        if isinstance(pool, _Pool):
            pool.abort()
        raise
    finally:
        pool.close()
        display.close()


def _readers_of(files: list[InputFile]) -> list[type[Reader]]:
    known = readers()
    return [known[name] for name in sorted({file.format for file in files})]


def _reachable_by_workers(config: Config, steps: list[Step], files: list[InputFile],
                          workers: int, shard_count: int) -> Config:
    """The config the workers get: with the modules of the user's steps and readers that they
    must import to find them by name. A run that needs workers refuses, before it starts, a
    step no worker can import (one defined in `__main__`: a notebook, stdin)."""
    if config.executor.kind != "ray" and min(workers, shard_count) <= 1:
        return config  # everything runs in this process
    try:
        extra = worker_modules([type(step) for step in steps] + _readers_of(files),
                               config.plugins)
    except PluginError as error:
        raise RunError(str(error)) from None
    if not extra:
        return config
    return config.model_copy(update={"plugins": [*config.plugins, *extra]})


def _make_pool(config: Config, workers: int, counters: Any) -> Any:
    if config.executor.kind == "ray":
        from tamis.runner.ray_pool import RayPool, RayUnavailable

        try:
            return RayPool(config.executor, counters, config.plugins)
        except RayUnavailable as error:
            raise RunError(str(error)) from None
    return _Pool(workers, counters)


class _Pool:
    """The local executor: one process pool for all passes, or this process for one worker.

    Workers are started once per run (not per pass) and only when there is work for them.
    """

    def __init__(self, workers: int, counters: Any) -> None:
        self.workers = max(workers, 1)
        self.counters = counters
        self._executor: ProcessPoolExecutor | None = None

    def run(self, tasks: list[ShardTask], display: progress.Display, already_done: int,
            on_failure: Callable[[ShardTask, BaseException], Exception]) -> None:
        done = already_done
        display.update(done)
        if self.workers == 1:
            progress.attach(self.counters)
            finished = [done]
            with progress.ticking(display, lambda: finished[0]):
                for task in tasks:
                    try:
                        run_shard(task)
                    except OSError as error:
                        raise on_failure(task, error) from error
                    finished[0] += 1
                    display.update(finished[0])
            return
        if self._executor is None and tasks:
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(self.counters, os.getpid()))
        futures: dict[Future[dict[str, Any]], ShardTask] = {
            self._executor.submit(run_shard, task): task for task in tasks} if tasks else {}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                try:
                    future.result()
                except (BrokenProcessPool, OSError) as error:
                    raise on_failure(futures[future], error) from error
                done += 1
            display.update(done)

    def resolve(self, step: GlobalStep, layout: Layout, pass_index: int,
                shard_count: int) -> tuple[int, str]:
        return resolve_step(step, layout, pass_index, shard_count)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def abort(self) -> None:
        """End the workers at once (SIGKILL), with a second Ctrl-C ignored meanwhile.

        Their unfinished shards leave only temporaries, which a rerun removes."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            # The executor has no public way to stop running tasks; its processes are known.
            processes = list((getattr(executor, "_processes", None) or {}).values())
            for process in processes:
                process.kill()
            for process in processes:
                process.join(10)
            executor.shutdown(wait=False, cancel_futures=True)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)


def _start_worker(counters: Any, parent: int) -> None:
    """A pool worker's start: Ctrl-C is the main process's to handle (it ends the workers; a
    worker would print a traceback), and the worker dies with the main process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    progress.attach(counters)


def _failure(task: ShardTask, error: BaseException) -> Exception:
    """The error a failed shard task becomes: what happened, where, and that a rerun resumes."""
    if isinstance(error, OSError):
        return _write_failure(task, error)
    if isinstance(error, BrokenProcessPool) or "WorkerCrashed" in type(error).__name__:
        return RunError(f"a worker process died while processing shard {task.shard.index} "
                        f"(killed, or out of memory); rerun the same command to resume")
    return RunError(f"shard {task.shard.index} failed: {type(error).__name__}: {error}; "
                    f"rerun the same command to resume")


def _rebuild_corrupt(layout: Layout, config: Config, shards: list[Shard], pass_index: int,
                     pool: Any, display: progress.Display) -> None:
    """Redo the shards whose intermediate files (state, keys) are missing or corrupt.

    Only files the next pass still needs are checked: a shard whose next pass is done has
    consumed its state already.
    """
    broken = []
    for shard in shards:
        if layout.read_marker(pass_index + 1, shard.index) is not None:
            continue
        marker = layout.read_marker(pass_index, shard.index) or {}
        files = marker.get("files", {})
        if any(not layout.intact(name, digest) for name, digest in sorted(files.items())):
            broken.append(shard)
    if not broken:
        return
    display.message(f"rebuilding {len(broken)} shard(s) whose intermediate files are corrupt")
    for shard in broken:
        layout.forget(layout.marker(pass_index, shard.index))
    layout.forget(layout.resolved_marker(pass_index))
    pool.run([ShardTask(layout.where, config, shard, pass_index) for shard in broken],
             display, len(shards) - len(broken), _failure)


def _resolved_intact(layout: Layout, pass_index: int) -> bool:
    """The global step of this pass was resolved and its decisions file is sound."""
    path = layout.resolved_marker(pass_index)
    if not layout.fetch(path):
        return False
    files = json.loads(path.read_text("utf-8")).get("files", {})
    return all(layout.intact(name, digest) for name, digest in files.items())


def _write_failure(task: ShardTask, error: OSError) -> OutputError:
    """An OS error while a shard was being written: say where, why, and that a rerun resumes."""
    reason = error.strerror or str(error)
    where = f" ({error.filename})" if error.filename else ""
    hint = " free some space, then" if error.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return OutputError(f"shard {task.shard.index} stopped on an OS error: {reason}{where};"
                       f"{hint} rerun the same command to resume")


def _run_limited(tasks: list[ShardTask], layout: Layout, limit: int,
                 display: progress.Display, already_done: int) -> None:
    """With --limit, shards run in input order until `limit` records have been read."""
    remaining = limit
    done = already_done
    for shard_index in range(already_done):
        marker = layout.read_marker(0, shard_index) or {}
        remaining -= marker.get("read", 0)
    progress.attach(display.counters)
    finished = [done]
    with progress.ticking(display, lambda: finished[0]):
        for task in tasks:
            try:
                marker = run_shard(ShardTask(task.root, task.config, task.shard, 0,
                                             max(remaining, 0)))
            except OSError as error:
                raise _failure(task, error) from error
            remaining -= marker["read"]
            finished[0] += 1
            display.update(finished[0])


def _finish(layout: Layout, config: Config, shards: list[Shard], files: list[Any],
            ignored: list[str], passes: int, limit: int | None, fingerprint: str,
            started: float) -> dict[str, Any]:
    """Add up the markers into manifest.json and stats.json, then drop the work files."""
    totals: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    removed_by: Counter[str] = Counter()
    edits: dict[str, Counter[str]] = {}
    seconds: Counter[str] = Counter()
    shard_rows = []
    report_parts = []
    parts = {kind: _part_names(layout, kind) for kind in RECORD_KINDS}
    for shard in shards:
        first = layout.read_marker(0, shard.index) or {}
        last = layout.read_marker(passes - 1, shard.index) or {}
        skipped.update(first.get("skipped", {}))
        removed_by.update(last.get("removed_by", {}))
        report_parts.append(last.get("report", {}))
        for rule, values in last.get("edits", {}).items():
            edits.setdefault(rule, Counter()).update(values)
        for pass_index in range(passes):
            seconds.update((layout.read_marker(pass_index, shard.index) or {}).get("seconds", {}))
        row = {"read": first.get("read", 0), "kept": last.get("kept", 0),
               "removed": last.get("removed", 0), "errors": last.get("errors", 0)}
        totals.update(row)
        totals["bytes_in"] += first.get("bytes_in", 0)
        totals["bytes_kept"] += last.get("bytes_kept", 0)
        files_written = {kind: parts[kind].get(shard.index) for kind in RECORD_KINDS}
        shard_rows.append({**shard.describe(), **row, "skipped": first.get("skipped", {}),
                           "outputs": files_written})
    counts = {key: totals[key] for key in ("read", "kept", "removed", "errors")}
    counts["skipped"] = dict(sorted(skipped.items()))
    wall = time.time() - started
    manifest = {
        "tamis_version": tamis.__version__,
        "status": "complete",
        "fingerprint": fingerprint,
        "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(wall, 3),
        "limit": limit,
        "config": config.model_dump(mode="json"),
        "inputs": [file.name for file in files],
        "ignored_inputs": ignored,
        "counts": counts,
        "duplicate_ids": _duplicate_ids(layout, shards,
                                        int(config.limits.memory_mb * 1024**2)),
        "shards": shard_rows,
    }
    by_step: dict[str, dict[str, int]] = {}
    for key, count in sorted(removed_by.items()):
        step, rule = key.split("/", 1)
        by_step.setdefault(step, {})[rule] = count
    stats = {
        "counts": counts,
        "bytes_in": totals["bytes_in"],
        "bytes_kept": totals["bytes_kept"],
        "removed_by": by_step,
        "edits": {rule: dict(values) for rule, values in sorted(edits.items())},
        "seconds": {"wall": round(wall, 3),
                    **{step: round(value, 3) for step, value in seconds.most_common()}},
        "docs_per_second": round(counts["read"] / wall, 1) if wall else None,
        **merge(report_parts),
        "clusters": cluster_summary(
            (layout.decisions_file(index) for index in range(passes)
             if layout.fetch(layout.decisions_file(index))),
            scratch=layout.work(passes) / "clusters",
            budget=int(config.limits.memory_mb * 1024**2)),
        "versions": environment_versions(),
    }
    layout.write_json(layout.stats, stats)
    layout.write_json(layout.manifest, manifest)
    layout.drop_work()
    return manifest


def _part_names(layout: Layout, kind: str) -> dict[int, str]:
    """The part file of each shard that wrote records of this kind, listed once."""
    names = {}
    for name in layout.remote_glob(f"{kind}/part-*"):
        stem = name.rsplit("/", 1)[-1].removeprefix("part-").split(".", 1)[0]
        names[int(stem)] = name
    return names


# Bytes per record while one partition of id hashes is counted (the hashes, the sorted copy,
# the unique values and their counts).
_BYTES_PER_ID_HASH = 32


def _duplicate_ids(layout: Layout, shards: list[Shard], budget: int) -> dict[str, Any]:
    """Ids used by more than one record: kept as they are, counted and shown here.

    Each record's id is known by a 64-bit hash (written per shard in pass 1). The hashes are
    spilled by their top bits into partitions sized to the memory budget, as the dedup resolve
    does, so the check holds one partition at a time, not the corpus's ids.
    """
    paths = [path for shard in shards if layout.fetch(path := layout.ids_file(shard.index))]
    total = sum(pq.ParquetFile(path).metadata.num_rows for path in paths)
    hashes = (pq.read_table(path, columns=["hash"]).column("hash").to_numpy() for path in paths)
    extra, repeated = 0, []
    # In hash order, so the first repeated hashes come first.
    for unique, counts in value_counts(hashes, total, 64, _BYTES_PER_ID_HASH, budget,
                                       layout.ids_file(0).parent / "check"):
        extra += int((counts[counts > 1] - 1).sum())
        repeated.extend(unique[counts > 1][: 5 - len(repeated)].tolist())
    examples: list[str] = []
    if repeated:
        wanted = pa.array(repeated, pa.uint64())
        for path in paths:
            table = pq.read_table(path, columns=["hash", "id"])
            found = table.filter(pc.is_in(table.column("hash"), value_set=wanted))
            for name in found.column("id").to_pylist():
                if name not in examples:
                    examples.append(name)
    return {"count": extra, "examples": examples}


