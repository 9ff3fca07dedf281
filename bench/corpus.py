"""The evaluation documents the filter benchmarks share.

For every evaluation page (the 629 pages of `derived/dev/linelabels.jsonl.gz`), its main-content
text (trafilatura, favour_precision) and its full-page text (resiliparse, main_content=False),
plus the seed. Extraction is slow, so the texts are cached in `bench/results/` (gitignored).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SHARED = BENCH.parents[1] / "shared"
DATA = SHARED / "data"
SEED = SHARED / "seed" / "000_27e23ccad5cb0e77.txt"
CACHE = BENCH / "results" / "eval_texts.jsonl.gz"


def page_html(page_id: str) -> str:
    """The HTML of one evaluation page, read from the raw folders."""
    source, name = page_id.split(":", 1)
    raw = DATA / "raw"
    if source == "scrapinghub-aeb":
        data = gzip.decompress((raw / source / "html" / f"{name}.html.gz").read_bytes())
    elif source == "readability-testpages":
        data = (raw / source / "pages" / name / "source.html").read_bytes()
    else:
        folder = raw / source / "html"
        path = folder / "eval" / f"{name}.gz"
        data = gzip.decompress((path if path.exists() else folder / "cache" / f"{name}.gz")
                               .read_bytes())
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    return bytes_to_str(data, detect_encoding(data))


def extract_all() -> list[dict[str, str]]:
    import trafilatura
    from resiliparse.extract.html2text import extract_plain_text

    with gzip.open(DATA / "derived" / "dev" / "linelabels.jsonl.gz", "rt") as pages:
        ids = [json.loads(line)["id"] for line in pages]
    docs = []
    for page_id in ids:
        html = page_html(page_id)
        main = trafilatura.extract(html, favor_precision=True) or ""
        full = extract_plain_text(html, main_content=False)
        docs.append({"id": f"{page_id}#main", "text": main})
        docs.append({"id": f"{page_id}#full", "text": full})
    docs.append({"id": "seed", "text": SEED.read_text(encoding="utf-8")})
    return docs


def eval_documents() -> list[dict[str, str]]:
    """Every evaluation document (id, text), non-empty ones only, extracting on first use."""
    if not CACHE.exists():
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        docs = extract_all()
        with gzip.open(CACHE, "wt", encoding="utf-8") as out:
            for doc in docs:
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    with gzip.open(CACHE, "rt", encoding="utf-8") as cached:
        docs = [json.loads(line) for line in cached]
    return [doc for doc in docs if doc["text"].strip()]


if __name__ == "__main__":
    print(len(eval_documents()), "documents")
