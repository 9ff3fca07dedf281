"""Runs and folders under attack: two runs on one folder, --overwrite near files that are not a
run's, an output folder inside the input, and a main process stopped by SIGTERM, SIGKILL or two
Ctrl-C. Each case checks the exit code and message a user sees, that no process is left behind,
and that the output equals an undisturbed run's. The repeated versions (20 concurrent runs...)
are in `bench/hostile.py`.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DATA, REPO, assert_conserved, need_shared, output_bytes

import tamis
from tamis.runner.layout import LOCK_NAME, Layout, OutputError

ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


def tamis_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tamis", *args], env=ENV, capture_output=True,
                          text=True, timeout=600)


def start_cli(*args: str) -> subprocess.Popen[str]:
    """`tamis` in its own process group, as a shell runs a foreground command (with Ctrl-C's
    default action: a test run from a background shell would pass SIGINT on ignored)."""
    return subprocess.Popen([sys.executable, "-m", "tamis", *args], env=ENV, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=_default_sigint)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def small_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.txt").write_text("The harbour opened at dawn and the boats went out.\n")
    (folder / "b.txt").write_text("A second page about the market square and its bakery.\n")
    (folder / "c.jsonl").write_text('{"id": "c1", "text": "Rain all week in the valley."}\n'
                                    '{"id": "c2", "text": "The harbour opened at dawn and the '
                                    'boats went out."}\n')
    return folder


READING = "pipeline: [normalize, drop_empty, dedup_exact]\n"


def reading_config(folder: Path) -> Path:
    path = folder / "reading.yaml"
    path.write_text(READING)
    return path


# -- the lock -----------------------------------------------------------------------------------


HOLD = """
import sys, time
from tamis.runner.layout import Layout
lock = Layout.for_output(sys.argv[1]).lock()
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def hold_lock(output: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(output)], env=ENV, text=True,
                              stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_is_refused_while_one_writes_and_touches_nothing(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "in")
    config = reading_config(tmp_path)
    out = tmp_path / "out"
    tamis.run(corpus, out, config=config)
    before = output_bytes(out)
    holder = hold_lock(out)
    try:
        for extra in ([], ["--overwrite"]):
            refused = tamis_cli("run", str(corpus), "-o", str(out), "--config", str(config),
                                "--quiet", *extra)
            assert refused.returncode == 4, refused.stderr
            assert "is being written by another tamis run" in refused.stderr
            assert f"pid {holder.pid} on host {socket.gethostname()}" in refused.stderr
            assert output_bytes(out) == before
            assert (out / "manifest.json").exists()
    finally:
        holder.kill()
        holder.wait()
    # The holder died without releasing: its lock is taken over, the run goes on (a no-op).
    assert tamis.run(corpus, out, config=config).resumed
    assert output_bytes(out) == before
    assert not (out / LOCK_NAME).exists()  # released


def test_the_lock_is_released_when_a_run_fails(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "in")
    out = tmp_path / "out"
    tamis.run(corpus, out, config=reading_config(tmp_path))
    with pytest.raises(OutputError, match="different config"):
        tamis.run(corpus, out)  # the default preset: another fingerprint
    assert not (out / LOCK_NAME).exists()
    with Layout.for_output(out).lock(), pytest.raises(OutputError, match="another tamis run"):
        Layout.for_output(out).lock().acquire()  # the first one was free


def test_concurrent_runs_on_one_folder_give_the_undisturbed_output(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "in")
    config = reading_config(tmp_path)
    tamis.run(corpus, tmp_path / "alone", config=config)
    expected = output_bytes(tmp_path / "alone")
    out = tmp_path / "out"
    runs = [start_cli("run", str(corpus), "-o", str(out), "--config", str(config), "--quiet",
                      *extra) for extra in ([], ["--overwrite"], [], ["--overwrite"])]
    results = [(run.wait(120), run.stderr.read()) for run in runs if run.stderr]
    assert all(code in (0, 4) for code, _ in results), results
    assert any(code == 0 for code, _ in results)
    for code, stderr in results:
        if code == 4:
            assert "is being written by another tamis run" in stderr
    assert output_bytes(out) == expected
    assert_conserved(out)


# -- --overwrite ----------------------------------------------------------------------------


def test_overwrite_keeps_files_that_are_not_the_runs(tmp_path: Path) -> None:
    """`echo x > O/NOTES.txt` beside a finished run: --overwrite replaces the run and leaves the
    note; reruns then resume, forever."""
    corpus = small_corpus(tmp_path / "in")
    config = reading_config(tmp_path)
    out = tmp_path / "out"
    tamis.run(corpus, out, config=config)
    expected = output_bytes(out)
    (out / "NOTES.txt").write_text("x\n")
    (out / "kept" / "mine.txt").write_text("my own file in kept/\n")
    result = tamis_cli("run", str(corpus), "-o", str(out), "--config", str(config), "--quiet",
                       "--overwrite")
    assert result.returncode == 0, result.stderr
    for again in range(3):
        assert (out / "NOTES.txt").read_text() == "x\n"
        assert (out / "kept" / "mine.txt").exists()
        got = output_bytes(out)
        assert {name: got[name] for name in expected} == expected
        rerun = tamis.run(corpus, out, config=config, overwrite=again == 0)
        assert rerun.resumed == (again > 0)


def test_overwrite_refuses_a_folder_without_a_run_before_deleting_anything(
        tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "in")
    out = tmp_path / "out"
    (out / "kept").mkdir(parents=True)
    (out / "NOTES.txt").write_text("x\n")
    (out / "manifest.json").write_text("{}\n")  # someone else's, with a name tamis uses
    (out / "kept" / "part-00000.jsonl.zst").write_bytes(b"not ours")
    before = sorted(path.relative_to(out) for path in out.rglob("*"))
    result = tamis_cli("run", str(corpus), "-o", str(out), "--quiet", "--overwrite")
    assert result.returncode == 4
    assert "is not empty and holds no tamis run" in result.stderr
    assert "NOTES.txt" in result.stderr
    assert "--overwrite only replaces a tamis run's own files" in result.stderr
    assert sorted(path.relative_to(out) for path in out.rglob("*")) == before


# -- the output inside an input folder -----------------------------------------------------------


def test_an_output_folder_inside_the_input_folder_is_never_read(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "in")
    config = reading_config(tmp_path)
    out = corpus / "out"
    first = tamis_cli("run", str(corpus), "-o", str(out), "--config", str(config), "--quiet")
    assert first.returncode == 0, first.stderr
    expected = output_bytes(out)
    rerun = tamis_cli("run", str(corpus), "-o", str(out), "--config", str(config))
    assert rerun.returncode == 0, rerun.stderr
    assert "resumed an earlier run" in rerun.stderr
    replaced = tamis.run(corpus, out, config=config, overwrite=True)
    assert replaced.counts["read"] == 4
    assert output_bytes(out) == expected
    assert not any(name.startswith("out/") for name in replaced.manifest["inputs"])


# -- signals and child processes ---------------------------------------------------------------


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def living(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def wait_until_gone(pids: set[int], seconds: float = 15) -> set[int]:
    deadline = time.monotonic() + seconds
    while living(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return living(pids)


@pytest.fixture(scope="module")
def slow_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real pages, JSONL and HTML, in many small shards, so a run with two workers can be
    stopped while pool workers, the resource tracker and extraction helpers are all alive."""
    source = need_shared(DATA / "derived" / "dev" / "neardup.jsonl.gz")
    pages = need_shared(DATA / "raw" / "trafilatura-eval" / "html" / "cache")
    folder = tmp_path_factory.mktemp("slow")
    with gzip.open(source, "rb") as lines:
        (folder / "pages.jsonl").write_bytes(b"".join(
            line for _, line in zip(range(400), lines, strict=False)))
    (folder / "html").mkdir()
    for page in sorted(pages.iterdir())[:12]:
        shutil.copy(page, folder / "html" / page.name)
    (folder / "shards.yaml").write_text(f"input: {{shard_size: 30KB}}\n{READING}")
    return folder


@pytest.fixture(scope="module")
def undisturbed(slow_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("undisturbed") / "out"
    tamis.run(slow_corpus, out, config=slow_corpus / "shards.yaml", workers=2)
    return output_bytes(out)


def _slow_run(slow_corpus: Path, out: Path) -> list[str]:
    return ["run", str(slow_corpus), "-o", str(out), "--config",
            str(slow_corpus / "shards.yaml"), "--workers", "2", "--quiet"]


def _started_shards(out: Path, process: subprocess.Popen[str]) -> set[int]:
    """Wait until workers and an extraction helper run and a shard is done; the processes."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        below = descendants(process.pid)
        helpers = [pid for pid in below if b"tamis.extract" in _command(pid)]
        if helpers and list((out / "_tamis" / "done").rglob("0*.json")):
            return below
        time.sleep(0.05)
    raise AssertionError("the run ended before it could be interrupted")


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL", "double Ctrl-C"])
def test_every_child_process_dies_with_the_main_process_and_the_run_resumes(
        slow_corpus: Path, undisturbed: dict[str, bytes], tmp_path: Path, how: str) -> None:
    out = tmp_path / "out"
    process = start_cli(*_slow_run(slow_corpus, out))
    children = _started_shards(out, process)
    assert len(children) >= 3  # two workers and the resource tracker, at least
    if how == "double Ctrl-C":
        os.killpg(process.pid, signal.SIGINT)  # a terminal signals the whole group
        time.sleep(0.3)
        os.killpg(process.pid, signal.SIGINT)
    else:
        os.kill(process.pid, getattr(signal, how))  # the main process alone
    code = process.wait(60)
    stderr = process.stderr.read() if process.stderr else ""
    assert wait_until_gone(children) == set()
    expected_code = {"SIGTERM": 128 + signal.SIGTERM, "SIGKILL": -signal.SIGKILL,
                     "double Ctrl-C": 130}[how]
    assert code == expected_code, stderr
    assert "Traceback" not in stderr
    if how == "SIGTERM":
        assert "stopped by SIGTERM; rerun the same command to resume" in stderr
    if how == "double Ctrl-C":
        assert "interrupted; rerun the same command to resume" in stderr
    resumed = tamis_cli(*_slow_run(slow_corpus, out))
    assert resumed.returncode == 0, resumed.stderr
    assert output_bytes(out) == undisturbed
