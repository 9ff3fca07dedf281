"""Progress without a terminal (issue 17): log lines come while a shard is still running, with
the documents done so far, not only when a shard ends."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from conftest import DATA, need_shared

import tamis


def test_log_lines_move_within_one_shard(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from tamis.runner import progress

    monkeypatch.setattr(progress, "LOG_SECONDS", 0.3)  # the README's 10 s, shortened
    monkeypatch.setattr(progress, "TICK_SECONDS", 0.1)
    with gzip.open(need_shared(DATA / "derived/dev/neardup.jsonl.gz"), "rt") as lines:
        (tmp_path / "in.jsonl").write_text(
            "".join(line for line, _ in zip(lines, range(1500), strict=False)))
    config = tamis.load_config(overrides={"pipeline": ["normalize", "gopher_repetition",
                                                       "gopher_quality"]})
    result = tamis.run(tmp_path / "in.jsonl", tmp_path / "out", config=config, workers=1,
                       quiet=False)
    assert len(result.manifest["shards"]) == 1
    lines = re.findall(r"run: 0/1 shards\s+([\d,]+) docs", capsys.readouterr().err)
    counts = [int(count.replace(",", "")) for count in lines]
    assert any(0 < count < 1500 for count in counts), lines  # inside the one shard
    assert counts == sorted(counts)
