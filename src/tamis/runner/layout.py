"""Where a run keeps its files, and the completion markers that make it resumable.

    OUT/kept/part-00000.jsonl.zst     final records (also removed/, errors/)
    OUT/manifest.json, OUT/stats.json  written when the run completes
    OUT/_tamis/run.json                config, fingerprint and shard plan, written first
    OUT/_tamis/done/pass-0/00000.json  a shard's completion marker, written last
    OUT/.tamis-lock                    held while a run writes the folder (see `RunLock`)
    OUT/_tamis/work/pass-0/...         state and keys between passes (removed at the end)

A marker is written only after every file of its shard is in place, and files are renamed into
place only when complete, so whatever moment a run is killed at, a rerun knows exactly which
shards are finished.

An output on object storage (`s3://...`, any fsspec URL), which has no atomic rename, is
written through a local staging folder: each file is completed locally, then uploaded whole
(an object PUT is all or nothing), and the shard's marker is uploaded last. The store is the
truth: markers are read from it, and intermediate files are fetched from it before use, so
workers on different machines see the same run.

One run at a time writes a folder: `RunLock` holds an advisory lock on `OUT/.tamis-lock` (for
object storage, on a file beside the local staging folder) from before anything is touched
until the run ends, however it ends. It is a `flock`, which the kernel releases when its holder
dies, so a killed run never leaves a lock behind that blocks the rerun.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import fsspec
import xxhash
from fsspec.core import url_to_fs

from tamis.io.writers import temp_path

RECORD_KINDS = ("kept", "removed", "errors")
LOCK_NAME = ".tamis-lock"
# The files a run writes at the top of its folder; `_tamis/` (state, markers) is all the run's.
RUN_FILES = ("manifest.json", "stats.json", "report.html", "schema.json")
# A part file of `kept/`, `removed/` or `errors/`, or its temporary while being written.
_PART = re.compile(r"(?:part-\d+\.[\w.]+|\.part-\d+\.[\w.]+\.\d+\.tmp)")


class OutputError(RuntimeError):
    """The output folder cannot be used: unwritable, not a tamis run, or a different config."""


class RunLock:
    """One writer per output folder: an exclusive `flock` on a small file, held for the run.

    Taken before the folder is touched; a second run is refused with the holder's pid and host.
    The file holds who took it, for that message. The kernel drops the lock when its holder
    dies (even by SIGKILL), so a dead holder's lock is taken over. The file is removed on
    release; a run that finds the file it locked already replaced (released and recreated by
    another run in between) locks the new one instead, so two runs never both hold a lock.

    On a local disk this holds between any processes of the machine; on NFS it holds as far as
    the server supports `flock` (NFSv4 byte-range locks). For object storage the lock is taken
    on the machine's staging folder: two runs on one machine exclude each other, runs on
    different machines writing the same URL do not (object stores have no lock).
    """

    def __init__(self, path: Path, where: str) -> None:
        self.path = path
        self.where = where
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise OutputError(
                        f"{self.where} is being written by another tamis run ({holder}); wait "
                        f"for it to finish or stop it, or write to another folder") from None
                try:
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(fd)  # released and removed meanwhile: lock the file that is there now
            holder = {"pid": os.getpid(), "host": socket.gethostname(),
                      "started": datetime.now(UTC).isoformat(timespec="seconds")}
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(holder).encode())
        except OSError as error:
            raise OutputError(f"cannot write to output folder {self.where}: "
                              f"{error.strerror or error}") from error
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still held: see the class docstring
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    """Who holds the lock, as the holder wrote it (it may not have written it yet)."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        holder = {}
    if not holder.get("pid"):
        return "it has just started"
    return (f"pid {holder['pid']} on host {holder.get('host', '?')}, started "
            f"{holder.get('started', '?')}")


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
            # The same URL on another store (another endpoint) is another output: its own
            # staging folder, and its own lock.
            options = json.dumps(url_to_fs(text)[0].storage_options, sort_keys=True,
                                 default=str)
            digest = hashlib.sha256(f"{text}\n{options}".encode()).hexdigest()[:16]
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

    def lock(self) -> RunLock:
        """The lock that makes this run the folder's only writer (see `RunLock`)."""
        if self.remote is None:
            if self.root.exists() and not self.root.is_dir():
                raise OutputError(f"output {self.root} exists and is not a folder")
            return RunLock(self.root / LOCK_NAME, self.where)
        return RunLock(self.root.with_name(self.root.name + LOCK_NAME), self.where)

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
        """Make the folder ready. Returns True when an earlier run of the same job is resumed.

        Everything is decided before anything is deleted. `overwrite` deletes only the files a
        tamis run writes (`kept/`, `removed/` and `errors/` part files, the top-level run files
        and `_tamis/`); a folder holding other files and no tamis run is refused as it is.
        """
        root = self.root
        if self.remote is None and root.exists() and not root.is_dir():
            raise OutputError(f"output {root} exists and is not a folder")
        if self.remote is not None:
            shutil.rmtree(root, ignore_errors=True)  # the store is the truth, not old staging
        listing = self._listing()
        if "_tamis/run.json" not in listing:
            others = [name for name in listing if not name.startswith("_tamis/")]
            if others:
                shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
                action = ("--overwrite only replaces a tamis run's own files" if overwrite
                          else "--overwrite replaces a tamis run's outputs, nothing else")
                raise OutputError(f"{self.where} is not empty and holds no tamis run (it holds "
                                  f"{shown}); use an empty or new folder ({action})")
        if not overwrite and self.fetch(self.run_file):
            previous = json.loads(self.run_file.read_text("utf-8"))
            if previous.get("fingerprint") != fingerprint:
                raise OutputError(
                    f"{self.where} holds a run with a different config or inputs "
                    f"(fingerprint {previous.get('fingerprint')}, now {fingerprint}); "
                    f"use another output folder, or --overwrite to replace it")
            self._remove_temporaries()
            return True
        # Decided: the run here is replaced (--overwrite), or this is a `_tamis` folder left by
        # a run killed before it wrote run.json. Files that are not the run's stay.
        self._delete([name for name in listing if _is_run_file(name)])
        try:
            root.mkdir(parents=True, exist_ok=True)
            self.write_json(self.run_file, {"fingerprint": fingerprint, **run_info})
        except OSError as error:
            raise OutputError(f"cannot write to output folder {self.where}: "
                              f"{error.strerror or error}") from error
        return False

    def _listing(self) -> list[str]:
        """Every file in the output, as sorted relative paths (the lock file left out)."""
        if self.remote is None:
            if not self.root.is_dir():
                return []
            found = []
            for folder, _, names in os.walk(self.root):
                for name in names:
                    relative = (Path(folder) / name).relative_to(self.root).as_posix()
                    if relative != LOCK_NAME:
                        found.append(relative)
            return sorted(found)
        filesystem, base = self._store
        if not filesystem.exists(base):
            return []
        found = filesystem.find(base, withdirs=False)
        # The listings it cached (every folder below) would hide what workers, other
        # processes, upload later: `exists` would answer from them.
        filesystem.invalidate_cache()
        return sorted(path[len(base.rstrip("/")) + 1:] for path in found)

    def _delete(self, names: list[str]) -> None:
        """Delete these output files, then the run's folders left empty."""
        if self.remote is not None and names:
            filesystem, base = self._store
            filesystem.rm([f"{base}/{name}" for name in names])
        for name in names:
            (self.root / name).unlink(missing_ok=True)
        shutil.rmtree(self.meta, ignore_errors=True)
        for kind in RECORD_KINDS:
            with contextlib.suppress(OSError):  # absent, or holds files that are not the run's
                (self.root / kind).rmdir()

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




def _is_run_file(name: str) -> bool:
    """Whether an output file (relative path) is one a tamis run writes."""
    top, _, rest = name.partition("/")
    if not rest:
        return name in RUN_FILES
    if top == "_tamis":
        return True
    return top in RECORD_KINDS and _PART.fullmatch(rest) is not None
