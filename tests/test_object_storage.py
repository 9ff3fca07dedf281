"""Inputs and outputs on object storage: an S3-compatible server on loopback (moto)."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fsspec
import pytest
from conftest import DATA, REPO, assert_conserved, need_shared, output_bytes

import tamis

moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")
pytest.importorskip("s3fs", reason="the s3 extra is not installed")


@pytest.fixture(scope="module")
def s3() -> str:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options = {"endpoint_url": f"http://{host}:{port}", "key": "testing", "secret": "testing",
               "client_kwargs": {"region_name": "us-east-1"}}
    saved = fsspec.config.conf.get("s3")
    fsspec.config.conf["s3"] = options
    # Worker processes read the same settings from the environment when fsspec starts.
    for key, value in (("ENDPOINT_URL", options["endpoint_url"]), ("KEY", "testing"),
                       ("SECRET", "testing")):
        os.environ[f"FSSPEC_S3_{key}"] = value
    import boto3

    boto3.client("s3", endpoint_url=options["endpoint_url"], aws_access_key_id="testing",
                 aws_secret_access_key="testing", region_name="us-east-1",
                 ).create_bucket(Bucket="corpus")
    yield "corpus"
    for key in ("ENDPOINT_URL", "KEY", "SECRET"):
        os.environ.pop(f"FSSPEC_S3_{key}", None)
    if saved is None:
        fsspec.config.conf.pop("s3", None)
    else:
        fsspec.config.conf["s3"] = saved
    server.stop()


def test_jsonl_and_txt_read_from_s3_give_the_local_output(s3: str, tmp_path: Path) -> None:
    source = need_shared(DATA / "derived" / "dev" / "neardup.jsonl.gz")
    local = tmp_path / "local"
    local.mkdir()
    with gzip.open(source, "rb") as lines:
        (local / "pages.jsonl").write_bytes(b"".join(
            line for _, line in zip(range(300), lines, strict=False)))
    for page in (REPO / "examples" / "corpus" / "pages").iterdir():
        (local / page.name).write_bytes(page.read_bytes())
    filesystem = fsspec.filesystem("s3", **fsspec.config.conf["s3"])
    filesystem.put(str(local) + "/", f"{s3}/dump/", recursive=True)

    config = tamis.load_config(overrides={"input": {"shard_size": "500KB"}})
    from_s3 = tamis.run(f"s3://{s3}/dump", tmp_path / "from-s3", config=config, workers=1)
    from_disk = tamis.run(local, tmp_path / "from-disk", config=config, workers=1)
    assert from_s3.counts == from_disk.counts
    assert len(from_s3.manifest["shards"]) > 2  # the JSONL file was cut into byte ranges
    assert output_bytes(tmp_path / "from-s3") == output_bytes(tmp_path / "from-disk")
    assert_conserved(tmp_path / "from-s3")


def _store() -> fsspec.AbstractFileSystem:
    return fsspec.filesystem("s3", skip_instance_cache=True, **fsspec.config.conf["s3"])


def _objects(prefix: str) -> dict[str, bytes]:
    store = _store()
    found = {}
    for kind in ("kept", "removed", "errors"):
        for path in store.glob(f"{prefix}/{kind}/*"):
            found[path[len(prefix) + 1:]] = store.cat_file(path)
    return found


def test_output_on_s3_matches_local_and_resumes_after_a_kill(s3: str, tmp_path: Path) -> None:
    source = need_shared(DATA / "derived" / "dev" / "neardup.jsonl.gz")
    pages = tmp_path / "pages.jsonl"
    with gzip.open(source, "rb") as lines:
        pages.write_bytes(b"".join(line for _, line in zip(range(600), lines, strict=False)))
    config = tmp_path / "shards.yaml"
    config.write_text("input:\n  shard_size: 150KB\n")
    local = tamis.run(pages, tmp_path / "local", config=config, workers=1)

    result = tamis.run(pages, f"s3://{s3}/clean", config=config, workers=2)
    assert result.counts == local.counts
    assert _objects(f"{s3}/clean") == {name: data for name, data in
                                      output_bytes(tmp_path / "local").items()}
    assert _store().exists(f"{s3}/clean/manifest.json")
    assert not _store().exists(f"{s3}/clean/_tamis/work")

    command = [sys.executable, "-m", "tamis", "run", str(pages), "-o", f"s3://{s3}/killed",
               "--config", str(config), "--workers", "2", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if len(_store().glob(f"{s3}/killed/_tamis/done/pass-0/0*.json")) >= 2:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not _store().exists(f"{s3}/killed/manifest.json")
    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert _objects(f"{s3}/killed") == _objects(f"{s3}/clean")
