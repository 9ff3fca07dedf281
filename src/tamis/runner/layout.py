"""Where a run keeps its files, and the completion markers that make it resumable.

    OUT/kept/part-00000.jsonl.zst     final records (also removed/, errors/)
    OUT/manifest.json, OUT/stats.json  written when the run completes
    OUT/_tamis/run.json                config, fingerprint and shard plan, written first
    OUT/_tamis/done/pass-0/00000.json  a shard's completion marker, written last
    OUT/_tamis/work/pass-0/...         state and keys between passes (removed at the end)

A marker is written only after every file of its shard is in place, and files are renamed into
place only when complete, so whatever moment a run is killed at, a rerun knows exactly which
shards are finished.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tamis.io.writers import temp_path

RECORD_KINDS = ("kept", "removed", "errors")


class OutputError(RuntimeError):
    """The output folder cannot be used: unwritable, not a tamis run, or a different config."""


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(path)
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def meta(self) -> Path:
        return self.root / "_tamis"

    @property
    def run_file(self) -> Path:
        return self.meta / "run.json"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def stats(self) -> Path:
        return self.root / "stats.json"

    def marker(self, pass_index: int, shard: int) -> Path:
        return self.meta / "done" / f"pass-{pass_index}" / f"{shard:05d}.json"

    def resolved_marker(self, pass_index: int) -> Path:
        return self.meta / "done" / f"pass-{pass_index}" / "resolved.json"

    def work(self, pass_index: int) -> Path:
        return self.meta / "work" / f"pass-{pass_index}"

    def state_file(self, pass_index: int, shard: int) -> Path:
        return self.work(pass_index) / f"state-{shard:05d}.jsonl.zst"

    def keys_file(self, pass_index: int, shard: int) -> Path:
        return self.work(pass_index) / f"keys-{shard:05d}.parquet"

    def decisions_file(self, pass_index: int) -> Path:
        return self.work(pass_index) / "decisions.parquet"

    def ids_file(self, shard: int) -> Path:
        return self.meta / "work" / "ids" / f"{shard:05d}.parquet"

    def read_marker(self, pass_index: int, shard: int) -> dict[str, Any] | None:
        path = self.marker(pass_index, shard)
        try:
            return json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def prepare(self, fingerprint: str, run_info: dict[str, Any], overwrite: bool) -> bool:
        """Make the folder ready. Returns True when an earlier run of the same job is resumed."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise OutputError(f"output {root} exists and is not a folder")
        if overwrite:
            self.clear()
        if self.run_file.exists():
            previous = json.loads(self.run_file.read_text("utf-8"))
            if previous.get("fingerprint") != fingerprint:
                raise OutputError(
                    f"{root} holds a run with a different config or inputs "
                    f"(fingerprint {previous.get('fingerprint')}, now {fingerprint}); "
                    f"use another output folder, or --overwrite to replace it")
            self._remove_temporaries()
            return True
        if root.exists() and any(root.iterdir()):
            raise OutputError(f"{root} is not empty and holds no tamis run; use an empty or new "
                              f"folder, or --overwrite to replace its tamis outputs")
        try:
            root.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.run_file, {"fingerprint": fingerprint, **run_info})
        except OSError as error:
            raise OutputError(f"cannot write to output folder {root}: "
                              f"{error.strerror or error}") from error
        return False

    def clear(self) -> None:
        for name in (*RECORD_KINDS, "_tamis"):
            shutil.rmtree(self.root / name, ignore_errors=True)
        for path in (self.manifest, self.stats, self.root / "report.html"):
            path.unlink(missing_ok=True)

    def _remove_temporaries(self) -> None:
        for path in self.root.rglob(".*.tmp"):
            path.unlink(missing_ok=True)

    def part_files(self, kind: str) -> list[Path]:
        return sorted((self.root / kind).glob("part-*"))
