"""Tokens and domains (issue 17): `token_count` with a tokenizer trained here on development
text, token and domain totals in stats.json that add up to the output, and the report showing
domains and URLs in headless Chromium."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, need_shared, read_output, tamis_command

import tamis

WARC = "raw/cc-raw-samples/resiliparse/CC-MAIN-2020-34-excerpt.warc.gz"
PIPELINE = ["normalize", "clean_body", {"language": {"label_only": True}}, "gopher_repetition",
            "TOKENS", "dedup_exact"]


def train_tokenizer(path: Path, texts: list[str], vocab_size: int = 600) -> Path:
    """A byte-level BPE tokenizer trained on `texts`, saved as a tokenizers JSON file."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.save(str(path))
    return path


def development_pages(count: int) -> list[dict[str, Any]]:
    with gzip.open(need_shared(DATA / "derived/dev/linelabels.jsonl.gz"), "rt") as lines:
        return [json.loads(line) for line, _ in zip(lines, range(count), strict=False)]


@pytest.fixture(scope="module")
def tokenized_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("tokens")
    pages = development_pages(80)
    tokenizer = train_tokenizer(folder / "tokenizer.json",
                                ["\n".join(page["lines"]) for page in pages[40:]])
    with open(folder / "pages.jsonl", "w", encoding="utf-8") as out:
        for page in pages[:40]:
            out.write(json.dumps({"id": page["id"], "text": "\n".join(page["lines"]),
                                  "url": page["url"]}) + "\n")
        for page in pages[:3]:  # exact copies, for dedup_exact after the tokens step
            out.write(json.dumps({"id": f"copy-{page['id']}", "text": "\n".join(page["lines"]),
                                  "url": page["url"]}) + "\n")
        out.write('{"id": "broken", "text": 12}\n')  # an error record
    pipeline = [{"tokens": {"tokenizer": str(tokenizer)}} if step == "TOKENS" else step
                for step in PIPELINE]
    (folder / "config.yaml").write_text(json.dumps({"pipeline": pipeline}))
    out = folder / "out"
    result = tamis_command("run", str(folder / "pages.jsonl"), str(need_shared(DATA / WARC)),
                           "-o", str(out), "--config", str(folder / "config.yaml"), "--quiet",
                           "--workers", "2", timeout=600)
    assert result.returncode == 0, result.stderr
    return {"out": out, "tokenizer": tokenizer, "folder": folder}


def test_token_count_is_the_tokenizer_s_count(tokenized_run: dict[str, Any]) -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenized_run["tokenizer"]))
    kept = read_output(tokenized_run["out"], "kept")
    assert len(kept) > 10
    for record in kept:
        expected = len(tokenizer.encode(record["text"], add_special_tokens=False).ids)
        assert record["signals"]["token_count"] == expected


def test_token_totals_add_up_to_the_output(tokenized_run: dict[str, Any]) -> None:
    out = tokenized_run["out"]
    stats = json.loads((out / "stats.json").read_text())
    kept = read_output(out, "kept")
    removed = read_output(out, "removed")
    tokens = stats["tokens"]
    assert tokens["kept"] == sum(record["signals"]["token_count"] for record in kept)
    counted = [record for record in removed if record["signals"]["token_count"] is not None]
    assert counted, "dedup_exact runs after tokens: its removals are counted"
    assert tokens["removed"] == sum(record["signals"]["token_count"] for record in counted)
    assert tokens["read"] == tokens["kept"] + tokens["removed"]
    assert tokens["documents"] == len(kept) + len(counted)
    by_step = {step: sum(rules.values()) for step, rules in tokens["removed_by"].items()}
    assert by_step["dedup_exact"] == sum(record["signals"]["token_count"] for record in counted
                                         if record["removed_by"]["step"] == "dedup_exact")
    # Removed before the tokens step: no count.
    assert any(record["signals"]["token_count"] is None for record in removed)


def test_domains_sum_to_the_documents_read(tokenized_run: dict[str, Any]) -> None:
    out = tokenized_run["out"]
    stats = json.loads((out / "stats.json").read_text())
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    domains = stats["domains"]
    for field in ("read", "kept", "removed", "errors"):
        assert sum(item[field] for item in domains.values()) == counts[field]
    assert sum(item["tokens"] for item in domains.values()) == stats["tokens"]["read"]
    assert domains["003338.cn"]["read"] >= 1  # a WARC document's registered domain
    assert domains["(no url)"]["errors"] == 1
    records = read_output(out, "kept") + read_output(out, "removed")
    assert sum(item["bytes"] for item in domains.values()) == sum(
        len(tamis.document.rebuild_input(record["text"], [
            tamis.document.Edit.from_dict(edit) for edit in record["edits"]]).encode())
        for record in records)


def test_stats_group_errors_by_reason(tokenized_run: dict[str, Any]) -> None:
    stats = json.loads((tokenized_run["out"] / "stats.json").read_text())
    assert stats["errors"]["by_reason"] == {"field 'text' is int, not a string": 1}


def test_report_shows_domains_urls_and_tokens_in_chromium(tokenized_run: dict[str, Any],
                                                          tmp_path: Path) -> None:
    from test_report import _chromium, _console_messages

    out = tokenized_run["out"]
    result = tamis_command("report", str(out), timeout=120)
    assert result.returncode == 0, result.stderr
    dom = _chromium(out / "report.html", "--dump-dom", profile=tmp_path / "profile")
    assert dom.returncode == 0 and _console_messages(dom.stderr) == []
    page = dom.stdout
    stats = json.loads((out / "stats.json").read_text())
    top = max(stats["domains"], key=lambda name: stats["domains"][name]["bytes"])
    volume = page[page.index('id="domains-by-volume"'):]
    assert f'data-domain="{top}"' in volume[:volume.index("</table>")]
    assert 'id="domains-by-removed"' in page
    # URLs beside the examples, in the summary line a closed <details> still shows.
    summaries = re.findall(r"<summary>(.*?)</summary>", page, re.S)
    assert any('class="url">http' in summary for summary in summaries)
    assert f'<td class="n">{stats["tokens"]["kept"]:,}</td>' in page  # the funnel's tokens
    assert 'data-reason="field \'text\' is int, not a string"' in page


def test_inspect_shows_url_date_and_language(tokenized_run: dict[str, Any]) -> None:
    records = read_output(tokenized_run["out"], "kept") + read_output(tokenized_run["out"],
                                                                      "removed")
    warc = next(record for record in records if record["url"].startswith("http://0033"))
    shown = tamis_command("inspect", str(tokenized_run["out"]), "--id", warc["id"], timeout=60)
    assert shown.returncode == 0, shown.stderr
    metadata = json.loads(warc["metadata"])
    assert f"url: {warc['url']}" in shown.stdout
    assert f"date: {metadata['date']}" in shown.stdout
    assert f"language: {metadata['language']}" in shown.stdout


def test_a_missing_tokenizer_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": "x"}\n')
    (tmp_path / "config.yaml").write_text(
        json.dumps({"pipeline": [{"tokens": {"tokenizer": str(tmp_path / "none.json")}}]}))
    result = tamis_command("run", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out"),
                           "--config", str(tmp_path / "config.yaml"), timeout=60)
    assert result.returncode == 2
    assert "tokens.tokenizer" in result.stderr and "does not exist" in result.stderr


def test_tokenize_writes_shards_that_decode_back_to_the_kept_texts(
        tokenized_run: dict[str, Any], tmp_path: Path) -> None:
    import numpy as np
    from tokenizers import Tokenizer

    from tamis.tokenize import read_shard

    out, tokenizer_path = tokenized_run["out"], tokenized_run["tokenizer"]
    target = tmp_path / "tokens"
    result = tamis_command("tokenize", str(out), "--tokenizer", str(tokenizer_path), "-o",
                           str(target), timeout=300)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((target / "tokenize.json").read_text())
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    eos = tokenizer.token_to_id("<|endoftext|>")
    assert manifest["dtype"] == "uint16" and manifest["eos"] == eos
    decoded = []
    for shard in manifest["shards"]:
        stem = shard["tokens_file"].removesuffix(".tokens")
        tokens, ends = read_shard(target, stem)
        assert tokens.dtype == np.dtype("<u2") and len(ends) == shard["documents"]
        starts = [0, *ends[:-1].tolist()]
        for start, end in zip(starts, ends.tolist(), strict=True):
            assert tokens[end - 1] == eos  # EOS closes every document
            decoded.append(tokenizer.decode(tokens[start:end - 1].tolist(),
                                            skip_special_tokens=False))
    kept = read_output(out, "kept")
    assert decoded == [record["text"] for record in kept]
    assert manifest["tokens"] == sum(record["signals"]["token_count"] + 1 for record in kept)
    # Resumable and deterministic: a lost shard is written again, byte for byte.
    before = {path.name: path.read_bytes() for path in target.iterdir()}
    first = sorted(target.glob("*.index"))[0]
    first.unlink()
    again = tamis_command("tokenize", str(out), "--tokenizer", str(tokenizer_path), "-o",
                          str(target), timeout=300)
    assert again.returncode == 0 and "already done" in again.stderr
    assert {path.name: path.read_bytes() for path in target.iterdir()} == before


def test_tokenize_needs_a_finished_run_and_a_known_eos(tokenized_run: dict[str, Any],
                                                       tmp_path: Path) -> None:
    tokenizer = str(tokenized_run["tokenizer"])
    missing = tamis_command("tokenize", str(tmp_path), "--tokenizer", tokenizer, "-o",
                            str(tmp_path / "t"), timeout=60)
    assert missing.returncode == 3 and "no finished tamis run" in missing.stderr
    wrong = tamis_command("tokenize", str(tokenized_run["out"]), "--tokenizer", tokenizer,
                          "--eos", "<nope>", "-o", str(tmp_path / "t"), timeout=60)
    assert wrong.returncode == 3 and "no token '<nope>'" in wrong.stderr
