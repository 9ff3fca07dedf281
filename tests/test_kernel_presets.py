"""Every preset gives byte-identical output with the compiled core and on the Python reference.

A sample of the development data (near-duplicate documents, so dedup has work, and labelled
pages with their boilerplate lines) goes through each preset twice, in two processes: one with
the core (the default), one with `TAMIS_KERNEL=python`.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, REPO, need_shared, output_bytes

from tamis.kernel import core

PRESETS = sorted(path.stem for path in (REPO / "src" / "tamis" / "presets").glob("*.yaml"))

_RUN_ALL = """
import sys, tamis
source, out = sys.argv[1], sys.argv[2]
for preset in sys.argv[3:]:
    tamis.run([source], f"{out}/{preset}", preset=preset, workers=1)
"""


def _sample(path: Path) -> None:
    dev = need_shared(DATA / "derived" / "dev")
    records = []
    with gzip.open(dev / "neardup.jsonl.gz", "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number % 80 < 2:  # pairs of neighbours: often copies of one page
                record = json.loads(line)
                records.append({"id": record["id"], "text": record["text"]})
    with gzip.open(dev / "linelabels.jsonl.gz", "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number % 60 == 0:
                record = json.loads(line)
                records.append({"id": record["id"], "text": "\n".join(record["lines"])})
    path.write_text("".join(json.dumps(record) + "\n" for record in records))


def _run(kernel: str, source: Path, out: Path) -> None:
    env = {**os.environ, "TAMIS_KERNEL": kernel}
    result = subprocess.run([sys.executable, "-c", _RUN_ALL, str(source), str(out), *PRESETS],
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(core is None, reason="TAMIS_KERNEL=python: no core to compare")
def test_every_preset_gives_the_same_bytes_with_the_core_and_the_reference(tmp_path: Path) -> None:
    source = tmp_path / "sample.jsonl"
    _sample(source)
    _run("rust", source, tmp_path / "rust")
    _run("python", source, tmp_path / "python")
    for preset in PRESETS:
        with_core = output_bytes(tmp_path / "rust" / preset)
        assert with_core, preset
        assert with_core == output_bytes(tmp_path / "python" / preset), preset
