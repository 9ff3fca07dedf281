"""Digests of a run's records on the development data, to show a refactoring changed no output.

    python bench/outputs_digest.py OUT.json            # run the cases, write their digests
    python bench/outputs_digest.py --compare A.json B.json

Runs each case below (a preset over real inputs from `../shared/data` and the examples) with two
workers and writes the SHA-256 of every file under `kept/`, `removed/` and `errors/` (the files
the design promises byte-identical; the manifest and stats hold times). To compare two versions
of the code, run it once per version (e.g. `PYTHONPATH=/path/to/other/checkout/src python ...`,
which shadows the editable install) and compare the two files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
SAMPLES = DATA / "raw" / "cc-raw-samples"

# name -> (preset, inputs)
CASES: dict[str, tuple[str, list[Path]]] = {
    "neardup-default": ("default", [DATA / "derived" / "dev" / "neardup.jsonl.gz"]),
    "neardup-fineweb": ("fineweb", [DATA / "derived" / "dev" / "neardup.jsonl.gz"]),
    "neardup-c4": ("c4", [DATA / "derived" / "dev" / "neardup.jsonl.gz"]),
    "ccnet-gopher": ("gopher", [SAMPLES / "dolma-ccnet"]),
    "ccnet-dedup": ("dedup", [SAMPLES / "dolma-ccnet"]),
    "warc-default": ("default", [SAMPLES / "resiliparse", SAMPLES / "whirlwind"]),
    "pages-default": ("default", [DATA / "raw" / "readability-testpages" / "pages"]),
    "examples-default": ("default", [REPO / "examples" / "corpus"]),
    "seed-clean": ("clean", [REPO.parent / "shared" / "seed"]),
}


def digests(preset: str, inputs: list[Path]) -> dict[str, str]:
    """Run one case into a temporary folder; the SHA-256 of each record file by its path."""
    import tamis

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        tamis.run([str(path) for path in inputs], out, preset=preset, workers=2)
        return {str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
                for kind in ("kept", "removed", "errors")
                for path in sorted((out / kind).glob("*")) if path.is_file()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", nargs="?", type=Path)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    args = parser.parse_args()
    if args.compare:
        first, second = ({case: files for case, files in json.loads(path.read_text()).items()
                          if case != "tamis"} for path in args.compare)
        differ = [case for case in sorted(set(first) | set(second))
                  if first.get(case) != second.get(case)]
        for case in sorted(set(first) | set(second)):
            files = len(first.get(case, {}))
            print(f"{case}: {'DIFFERS' if case in differ else 'identical'} ({files} files)")
        return 1 if differ else 0
    import tamis

    result = {}
    for name, (preset, inputs) in CASES.items():
        result[name] = digests(preset, inputs)
        print(f"{name}: {len(result[name])} files", file=sys.stderr)
    args.output.write_text(json.dumps({"tamis": tamis.__file__, **result}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
