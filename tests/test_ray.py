"""The Ray executor: the same output as the local one, even when a worker dies mid-run."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import DATA, REPO, assert_conserved, need_shared, output_bytes

import tamis

ray = pytest.importorskip("ray", reason="the Ray extra is not installed")


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster (2 CPUs) for the whole module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO / "src")}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def web_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000 real documents (the near-duplicate set: copies of articles in many wrappers)."""
    source = need_shared(DATA / "derived" / "dev" / "neardup.jsonl.gz")
    path = tmp_path_factory.mktemp("ray") / "pages.jsonl"
    with gzip.open(source, "rb") as lines:
        path.write_bytes(b"".join(line for _, line in zip(range(1000), lines, strict=False)))
    return path


def small_shards(tmp_path: Path) -> Path:
    config = tmp_path / "shards.yaml"
    config.write_text("input:\n  shard_size: 200KB\n")
    return config


def test_ray_output_is_byte_identical_to_local(cluster, web_pages: Path, tmp_path: Path) -> None:
    config = small_shards(tmp_path)
    tamis.run(web_pages, tmp_path / "local", config=config, workers=2)
    result = tamis.run(web_pages, tmp_path / "ray", config=config, executor="ray")
    assert result.counts["read"] == 1000
    assert output_bytes(tmp_path / "ray") == output_bytes(tmp_path / "local")
    assert_conserved(tmp_path / "ray")


def _shard_worker_pids() -> list[int]:
    listing = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split(None, 1)[0]) for line in listing.splitlines()
            if "ray::run_shard" in line]


def test_a_killed_ray_worker_is_retried_and_the_output_is_unchanged(
        cluster, web_pages: Path, tmp_path: Path) -> None:
    config = small_shards(tmp_path)
    tamis.run(web_pages, tmp_path / "local", config=config, workers=1)
    killed: list[int] = []

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for pid in _shard_worker_pids():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    tamis.run(web_pages, tmp_path / "ray", config=config, executor="ray")
    killer.join()
    assert killed, "no Ray worker was seen running a shard"
    assert output_bytes(tmp_path / "ray") == output_bytes(tmp_path / "local")
    assert_conserved(tmp_path / "ray")


def test_choosing_ray_without_ray_installed_says_how_to_get_it(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    script = ("import sys; sys.modules['ray'] = None\n"
              "from tamis.cli import main\n"
              f"sys.exit(main(['run', {str(REPO / 'examples' / 'corpus')!r}, '-o', "
              f"{str(tmp_path / 'out')!r}, '--executor', 'ray']))")
    result = subprocess.run([sys.executable, "-c", script], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 5
    assert "pip install 'tamis[ray]'" in result.stderr
