"""`tamis tokenize` beside datatrove's `DocumentTokenizer`: tokens/s per core on the same
documents with the same tokenizer.

Documents: the development sets read from ../shared/data (`neardup`, `linelabels` pages, the
`seedlike` articles), put through a tamis run with a reading-only pipeline, so that the run's
`kept/` holds them. Tokenizer: a byte-level BPE trained here on the `linelabels` pages with the
`tokenizers` library (nothing downloaded), saved as a tokenizer.json both sides load. Both sides
write ids with EOS after each document and an index of document ends, unshuffled
(`shuffle_documents=False`), and both are held to one thread (RAYON_NUM_THREADS=1), so the figure
is per core. datatrove runs from a separate git-ignored virtualenv (`bench/.venv-datatrove`,
`pip install datatrove==0.10.1`), reading the same texts from a plain JSONL file. The two sides
take turns `--repeat` times; the medians are reported, with a check that both wrote the same
number of tokens.

    PYTHONPATH=src python bench/tokenize_speed.py [--repeat 3] [--copies 4]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
DATATROVE = REPO / "bench" / ".venv-datatrove" / "bin" / "python"

DATATROVE_SCRIPT = """
import sys, time
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.tokens import DocumentTokenizer
from datatrove.executor import LocalPipelineExecutor
source, tokenizer, target = sys.argv[1:4]
started = time.perf_counter()
LocalPipelineExecutor(pipeline=[
    JsonlReader(source, glob_pattern="docs.jsonl"),
    DocumentTokenizer(output_folder=target, tokenizer_name_or_path=tokenizer,
                      eos_token="<|endoftext|>", shuffle_documents=False, batch_size=1024),
], tasks=1, workers=1, logging_dir=target + "/logs").run()
print(time.perf_counter() - started)
"""


def train_tokenizer(path: Path, vocab_size: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    with gzip.open(DATA / "derived/dev/linelabels.jsonl.gz", "rt") as lines:
        texts = ["\n".join(json.loads(line)["lines"]) for line in lines]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.save(str(path))


def corpus(folder: Path, copies: int) -> Path:
    """The development texts as one JSONL file, `copies` times over (ids made unique)."""
    records = []
    for name, text_of in (("neardup", lambda r: r["text"]),
                          ("linelabels", lambda r: "\n".join(r["lines"])),
                          ("seedlike", lambda r: "\n".join(r["lines"]))):
        with gzip.open(DATA / f"derived/dev/{name}.jsonl.gz", "rt") as lines:
            for number, line in enumerate(lines):
                records.append((f"{name}-{number}", text_of(json.loads(line))))
    path = folder / "corpus.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for copy in range(copies):
            for doc_id, text in records:
                out.write(json.dumps({"id": f"{copy}-{doc_id}", "text": text}) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--work", default="/tmp/tamis-tokenize-bench")
    args = parser.parse_args()
    os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers starts its thread pool
    sys.path.insert(0, str(REPO / "src"))
    import tamis
    from tamis.tokenize import tokenize_run

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tokenizer = work / "tokenizer.json"
    train_tokenizer(tokenizer, args.vocab)
    source = corpus(work, args.copies)
    out = work / "run"
    config = tamis.load_config(overrides={"pipeline": ["drop_empty"]})
    tamis.run(source, out, config=config, workers=2)
    # datatrove reads the kept texts, in the same order, from one plain JSONL file.
    from tamis.tokenize import kept_parts, texts

    (work / "dt-in").mkdir()
    kept = [text for part in kept_parts(out) for text in texts(part)]
    with open(work / "dt-in" / "docs.jsonl", "w", encoding="utf-8") as handle:
        for number, text in enumerate(kept):
            handle.write(json.dumps({"id": str(number), "text": text}) + "\n")
    megabytes = sum(len(text.encode()) for text in kept) / 1e6
    ours, theirs, tokens = [], [], {}
    for _ in range(args.repeat):
        target = work / "tamis-out"
        shutil.rmtree(target, ignore_errors=True)
        started = time.perf_counter()
        result = tokenize_run(out, tokenizer, target)
        ours.append(time.perf_counter() - started)
        tokens["tamis"] = result.tokens
        if DATATROVE.exists():
            target = work / "dt-out"
            shutil.rmtree(target, ignore_errors=True)
            done = subprocess.run([str(DATATROVE), "-c", DATATROVE_SCRIPT, str(work / "dt-in"),
                                   str(tokenizer), str(target)], capture_output=True, text=True,
                                  env={**os.environ, "RAYON_NUM_THREADS": "1"}, check=True)
            theirs.append(float(done.stdout.strip().splitlines()[-1]))
            written = sum(path.stat().st_size for path in target.glob("*.ds"))
            tokens["datatrove"] = written // 2
    print(f"{len(kept):,} documents, {megabytes:,.1f} MB of text, vocabulary {args.vocab:,}, "
          f"one thread each, {args.repeat} turns")
    print("| tokenizer run | median s | tokens | tokens/s per core |")
    print("|---|---:|---:|---:|")
    for name, seconds in (("tamis tokenize", ours), ("datatrove DocumentTokenizer", theirs)):
        if seconds:
            key = "tamis" if name.startswith("tamis") else "datatrove"
            median = statistics.median(seconds)
            print(f"| {name} | {median:.2f} | {tokens[key]:,} | {tokens[key] / median:,.0f} |")


if __name__ == "__main__":
    main()
