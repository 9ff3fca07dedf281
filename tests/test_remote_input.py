"""Inputs on object storage: an S3-compatible server on loopback (moto), read through fsspec."""

from __future__ import annotations

import gzip
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
    import boto3

    boto3.client("s3", endpoint_url=options["endpoint_url"], aws_access_key_id="testing",
                 aws_secret_access_key="testing", region_name="us-east-1",
                 ).create_bucket(Bucket="corpus")
    yield "corpus"
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
