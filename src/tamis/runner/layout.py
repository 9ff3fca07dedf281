"""Where a run keeps its files, and the completion markers that make it resumable.

    OUT/kept/part-00000.jsonl.zst     final records (also removed/, errors/)
    OUT/manifest.json, OUT/stats.json  written when the run completes
    OUT/_tamis/run.json                config, fingerprint and shard plan, written first
    OUT/_tamis/done/pass-0/00000.json  a shard's completion marker, written last
    OUT/_tamis/work/pass-0/...         state and keys between passes (removed at the end)

A marker is written only after every file of its shard is in place, and files are renamed into
place only when complete, so whatever moment a run is killed at, a rerun knows exactly which
shards are finished.

An output on object storage (`s3://...`, any fsspec URL), which has no atomic rename, is
written through a local staging folder: each file is completed locally, then uploaded whole
(an object PUT is all or nothing), and the shard's marker is uploaded last. The store is the
truth: markers are read from it, and intermediate files are fetched from it before use, so
workers on different machines see the same run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import fsspec
import xxhash
from fsspec.core import url_to_fs

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
    """Paths of a run. `root` is local: the output folder, or a staging folder for `remote`."""

    root: Path
    remote: str | None = None

    @classmethod
    def for_output(cls, output: str | Path) -> Layout:
        """The layout of an output folder or URL."""
        text = str(output)
        if "://" in text and not text.startswith("file://"):
            digest = hashlib.sha256(text.encode()).hexdigest()[:16]
            staging = Path(tempfile.gettempdir()) / "tamis-staging" / digest
            return cls(staging, text.rstrip("/"))
        return cls(Path(text.removeprefix("file://")))

    @property
    def where(self) -> str:
        """The output as the user named it, for messages."""
        return self.remote or str(self.root)

    # -- object storage --------------------------------------------------------------------

    @cached_property
    def _store(self) -> tuple[fsspec.AbstractFileSystem, str]:
        assert self.remote is not None
        return url_to_fs(self.remote)

    def _remote_path(self, path: Path) -> str:
        base = self._store[1]
        return f"{base}/{path.relative_to(self.root).as_posix()}"

    def publish(self, path: Path) -> None:
        """Make a completed local file visible in the output (uploaded whole when remote)."""
        if self.remote is not None and path.exists():
            filesystem, _ = self._store
            filesystem.put_file(str(path), self._remote_path(path))
            path.unlink()  # staging holds only what is not uploaded yet

    def fetch(self, path: Path) -> bool:
        """Make an output file readable at `path`; False when it does not exist."""
        if self.remote is None:
            return path.exists()
        filesystem, _ = self._store
        remote = self._remote_path(path)
        if not filesystem.exists(remote):
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = temp_path(path)
        filesystem.get_file(remote, str(temp))
        os.replace(temp, path)
        return True

    def checksum(self, path: Path) -> str:
        """xxh3-64 of a local file, recorded in markers so intermediates are verified before
        use: a truncated or corrupted file is rebuilt, never trusted."""
        digest = xxhash.xxh3_64()
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def intact(self, relative: str, expected: str) -> bool:
        """Whether the output file at `relative` exists and has the recorded checksum."""
        path = self.root / relative
        try:
            return self.fetch(path) and self.checksum(path) == expected
        except OSError:
            return False

    def forget(self, path: Path) -> None:
        """Remove a marker, so its work is done again."""
        path.unlink(missing_ok=True)
        if self.remote is not None:
            filesystem, _ = self._store
            if filesystem.exists(self._remote_path(path)):
                filesystem.rm(self._remote_path(path))

    def write_json(self, path: Path, data: Any) -> None:
        write_json_atomic(path, data)
        self.publish(path)

    def exists(self, path: Path) -> bool:
        if self.remote is None:
            return path.exists()
        filesystem, _ = self._store
        return bool(filesystem.exists(self._remote_path(path)))

    def remote_glob(self, pattern: str) -> list[str]:
        """Output files matching `pattern` (relative to the output), as relative paths."""
        if self.remote is None:
            return [str(path.relative_to(self.root)) for path in sorted(self.root.glob(pattern))]
        filesystem, base = self._store
        return sorted(found[len(base) + 1:] for found in filesystem.glob(f"{base}/{pattern}"))

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
            if self.remote is not None:
                filesystem, _ = self._store
                return json.loads(filesystem.cat_file(self._remote_path(path)))
            return json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def prepare(self, fingerprint: str, run_info: dict[str, Any], overwrite: bool) -> bool:
        """Make the folder ready. Returns True when an earlier run of the same job is resumed."""
        root = self.root
        if self.remote is None and root.exists() and not root.is_dir():
            raise OutputError(f"output {root} exists and is not a folder")
        if overwrite:
            self.clear()
        if self.remote is not None:
            shutil.rmtree(root, ignore_errors=True)  # the store is the truth, not old staging
        if self.fetch(self.run_file):
            previous = json.loads(self.run_file.read_text("utf-8"))
            if previous.get("fingerprint") != fingerprint:
                raise OutputError(
                    f"{self.where} holds a run with a different config or inputs "
                    f"(fingerprint {previous.get('fingerprint')}, now {fingerprint}); "
                    f"use another output folder, or --overwrite to replace it")
            self._remove_temporaries()
            return True
        if self._holds_files():
            raise OutputError(f"{self.where} is not empty and holds no tamis run; use an empty "
                              f"or new folder, or --overwrite to replace its tamis outputs")
        try:
            root.mkdir(parents=True, exist_ok=True)
            self.write_json(self.run_file, {"fingerprint": fingerprint, **run_info})
        except OSError as error:
            raise OutputError(f"cannot write to output folder {self.where}: "
                              f"{error.strerror or error}") from error
        return False

    def _holds_files(self) -> bool:
        """Whether the folder holds anything but a `_tamis` folder left by a run killed before
        it wrote `run.json` (that one is ours, and is cleared)."""
        if self.remote is None:
            if not self.root.exists():
                return False
            shutil.rmtree(self.meta, ignore_errors=True)
            return any(self.root.iterdir())
        filesystem, base = self._store
        if not filesystem.exists(base):
            return False
        if filesystem.exists(f"{base}/_tamis"):
            filesystem.rm(f"{base}/_tamis", recursive=True)
        return bool(filesystem.ls(base, refresh=True))

    def clear(self) -> None:
        for name in (*RECORD_KINDS, "_tamis"):
            shutil.rmtree(self.root / name, ignore_errors=True)
        for path in (self.manifest, self.stats, self.root / "report.html",
                     self.root / "schema.json"):
            path.unlink(missing_ok=True)
        if self.remote is not None:
            filesystem, base = self._store
            for name in (*RECORD_KINDS, "_tamis", "manifest.json", "stats.json", "report.html",
                         "schema.json"):
                if filesystem.exists(f"{base}/{name}"):
                    filesystem.rm(f"{base}/{name}", recursive=True)

    def drop_work(self) -> None:
        """Remove the intermediate files once the run is complete."""
        shutil.rmtree(self.meta / "work", ignore_errors=True)
        if self.remote is not None:
            filesystem, base = self._store
            if filesystem.exists(f"{base}/_tamis/work"):
                filesystem.rm(f"{base}/_tamis/work", recursive=True)

    def _remove_temporaries(self) -> None:
        for path in self.root.rglob(".*.tmp"):
            path.unlink(missing_ok=True)


