"""PII redaction: precision and recall per kind on real pages with planted PII and look-alikes.

The test set: every page of ../shared/data/derived/dev/linelabels.jsonl.gz and seedlike.jsonl.gz
(real web text, lines joined). Into each page, at random line ends (seeded), go two generated
items of each PII kind and as many look-alikes (dates, prices, version numbers, ISBNs,
coordinates, private and documentation IP addresses, card numbers failing Luhn, IBANs with a
bad checksum, invalid SSNs, ZIP+4 codes, order numbers, times, barcodes), each inside one of
the same neutral phrases ("see X.", "(X)", "ref: X,"...), so the phrase gives nothing away.

Generation: e-mail addresses from name parts and domains; phone numbers from libphonenumber's
example numbers of 40 regions with the last digits changed (kept only when still valid),
written in international, E.164 and (US) national formats; public IPv4 and 2000::/3 IPv6
addresses; card numbers with real issuer prefixes and a Luhn check digit, contiguous or
grouped; IBANs of eight countries with mod-97 check digits, grouped or compact; SSNs outside
the never-issued ranges, hyphenated or spaced after "SSN".

Scoring, per kind: a planted item counts as found when a find of its kind covers exactly its
span. Every other find of that kind is a false positive, except finds that the page held before
planting (real addresses and phone numbers on the pages: counted and listed apart, since they
are PII too, not errors). Also printed: docs/s and MB/s per core of the `pii` step alone on the
unplanted pages.

    python bench/pii.py [--seed 1] [--show 20]
"""

from __future__ import annotations

import argparse
import gzip
import ipaddress
import json
import random
import resource
import string
import time
from collections import Counter
from pathlib import Path

import phonenumbers
from stdnum import luhn

from tamis.clean.pii import KINDS, find_pii
from tamis.document import Document
from tamis.step import build_step

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "derived" / "dev"
PHRASES = ["see {}.", "({})", "ref: {},", "{}", "details: {};", "- {}", "on {} today.",
           "\u201c{}\u201d", "at {} or", "number {}."]
PHONE_REGIONS = ["US", "GB", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "SE", "NO", "DK",
                 "FI", "PL", "CZ", "PT", "IE", "GR", "HU", "RO", "TR", "RU", "UA", "IL", "IN",
                 "CN", "JP", "KR", "SG", "AU", "NZ", "CA", "MX", "BR", "AR", "CL", "ZA", "NG",
                 "EG"]
IBAN_LENGTHS = {"DE": 18, "AT": 16, "BE": 12, "CH": 17, "ES": 20, "PL": 24, "FI": 14, "DK": 14}


def load_pages() -> list[str]:
    pages = []
    for name in ("linelabels", "seedlike"):
        with gzip.open(DATA / f"{name}.jsonl.gz", "rt", encoding="utf-8") as lines:
            pages.extend("\n".join(json.loads(line)["lines"]) for line in lines)
    return pages


# -- generated PII -----------------------------------------------------------------------------

def email(rng: random.Random) -> str:
    first = rng.choice(["anna", "jean", "li", "omar", "sara", "k", "mike", "eva", "raj", "tom"])
    last = rng.choice(["smith", "mueller", "wang", "garcia", "okafor", "dubois", "ito", "nowak"])
    local = rng.choice([f"{first}.{last}", f"{first}{last}{rng.randint(1, 99)}",
                        f"{first[0]}_{last}", f"{first}+news", f"{last}"])
    domain = rng.choice(["example.com", "mail.co.uk", "uni-bonn.de", "gmail.com", "web.de",
                         "post.example.org", "firm.io", "agency.gov", "isp.net.au"])
    return f"{local}@{domain}"


def phone(rng: random.Random) -> str:
    while True:
        region = rng.choice(PHONE_REGIONS)
        kind = rng.choice([phonenumbers.PhoneNumberType.FIXED_LINE,
                           phonenumbers.PhoneNumberType.MOBILE])
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        national = str(example.national_number)
        tail = "".join(rng.choice(string.digits) for _ in range(3))
        number = phonenumbers.parse(f"+{example.country_code}{national[:-3]}{tail}", None)
        if not phonenumbers.is_valid_number(number):
            continue
        formats = [phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                   phonenumbers.PhoneNumberFormat.E164]
        if region == "US":
            digits = str(number.national_number)
            return rng.choice([phonenumbers.format_number(number, rng.choice(formats)),
                               f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                               f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
                               f"{digits[:3]}.{digits[3:6]}.{digits[6:]}",
                               f"1-{digits[:3]}-{digits[3:6]}-{digits[6:]}"])
        return phonenumbers.format_number(number, rng.choice(formats))


def ip(rng: random.Random) -> str:
    while True:
        if rng.random() < 0.6:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(
                rng.getrandbits(32))
        else:
            address = ipaddress.IPv6Address((1 << 125) | rng.getrandbits(125))  # 2000::/3
        if address.is_global:
            text = str(address)
            if isinstance(address, ipaddress.IPv6Address) and rng.random() < 0.3:
                text = address.exploded
            return text


CARD_PREFIXES = [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15),
                 ("6011", 16), ("65", 16), ("3530", 16), ("36", 14), ("62", 16), ("4", 19)]


def card(rng: random.Random) -> str:
    prefix, length = rng.choice(CARD_PREFIXES)
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    digits = body + luhn.calc_check_digit(body)
    if rng.random() < 0.4:
        return digits
    separator = rng.choice([" ", "-"])
    if length == 15:
        return separator.join([digits[:4], digits[4:10], digits[10:]])
    if length == 14:
        return separator.join([digits[:4], digits[4:10], digits[10:]])
    return separator.join(digits[start:start + 4] for start in range(0, length, 4))


def iban(rng: random.Random, valid: bool = True) -> str:
    country = rng.choice(sorted(IBAN_LENGTHS))
    bban = "".join(rng.choice(string.digits) for _ in range(IBAN_LENGTHS[country]))
    numeric = "".join(str(int(char, 36)) for char in bban + country + "00")
    check = 98 - int(numeric) % 97
    if not valid:
        check = (check + rng.randint(1, 90)) % 97 + 2
    compact = f"{country}{check:02d}{bban}"
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[start:start + 4] for start in range(0, len(compact), 4))


def ssn(rng: random.Random) -> str:
    area = rng.choice([number for number in range(1, 900) if number != 666])
    parts = f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"
    if rng.random() < 0.2:
        return "SSN " + " ".join(parts)
    return "-".join(parts)


GENERATORS = {"email": email, "phone": phone, "ip": ip, "card": card, "iban": iban, "ssn": ssn}


# -- look-alikes -------------------------------------------------------------------------------

def lookalike(rng: random.Random) -> str:
    year, month, day = rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(1, 28)
    digits = lambda count: "".join(rng.choice(string.digits) for _ in range(count))  # noqa: E731
    isbn13 = "978" + digits(9)
    isbn13 += str((10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(isbn13)) % 10)
                  % 10)
    bad_card = digits(16)
    while luhn.is_valid(bad_card):
        bad_card = digits(16)
    choices = [
        f"{year}-{month:02d}-{day:02d}", f"{day:02d}.{month:02d}.{year}", f"{month}/{day}/{year}",
        f"{day}.{month}.{year} {rng.randint(0, 23)}:{rng.randint(10, 59)}",
        f"${rng.randint(1, 99)},{digits(3)}.{digits(2)}", f"{digits(4)},{digits(2)} \u20ac",
        f"v{rng.randint(1, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
        f"version {rng.randint(1, 12)}.{rng.randint(0, 9)}.{digits(3)}.{rng.randint(0, 99)}",
        f"ISBN {isbn13[:3]}-{isbn13[3]}-{isbn13[4:8]}-{isbn13[8:12]}-{isbn13[12]}",
        f"ISBN {isbn13}",
        f"{rng.uniform(-90, 90):.4f}, {rng.uniform(-180, 180):.4f}",
        f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}", f"10.{rng.randint(0, 255)}.0.1",
        "127.0.0.1", f"203.0.113.{rng.randint(1, 254)}", f"2001:db8::{rng.randint(1, 9999)}",
        f"fe80::{digits(2)}:{digits(4)}", bad_card,
        " ".join(bad_card[i:i + 4] for i in range(0, 16, 4)), iban(rng, valid=False),
        f"{rng.choice(['000', '666', '9' + digits(2)])}-{digits(2)}-{digits(4)}",
        f"{digits(5)}-{digits(4)}", f"Order {digits(4)}-{digits(4)}-{digits(4)}",
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
        f"{rng.randint(0, 9)}-{rng.randint(0, 9)} ({rng.randint(0, 9)}-{rng.randint(0, 9)})",
        f"EAN {digits(13)}", f"{rng.randint(1, 99)}% of {digits(3)},{digits(3)}",
        f"{rng.randint(1, 31)} {rng.randint(1, 31)} {rng.randint(1, 31)} {rng.randint(1, 31)}",
    ]
    return rng.choice(choices)


# -- planting and scoring ----------------------------------------------------------------------

def plant(page: str, rng: random.Random, per_kind: int) -> tuple[str, list[tuple[int, int, str]]]:
    """The page with items appended to random lines, and each planted item's span and kind."""
    items = [(kind, GENERATORS[kind](rng)) for kind in GENERATORS for _ in range(per_kind)]
    items += [("lookalike", lookalike(rng)) for _ in range(len(items))]
    rng.shuffle(items)
    lines = page.split("\n")
    additions: dict[int, list[tuple[str, str]]] = {}
    for item in items:
        additions.setdefault(rng.randrange(len(lines)), []).append(item)
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    position = 0
    for index, line in enumerate(lines):
        pieces = [line]
        for kind, value in additions.get(index, []):
            phrase = rng.choice(PHRASES)
            before = phrase.index("{}")
            start = position + sum(len(piece) for piece in pieces) + 1 + before
            value_start = start + (len("SSN ") if value.startswith("SSN ") else 0)
            spans.append((value_start, start + len(value), kind))
            pieces.append(" " + phrase.format(value))
        joined = "".join(pieces)
        out.append(joined)
        position += len(joined) + 1
    return "\n".join(out), spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-kind", type=int, default=2)
    parser.add_argument("--show", type=int, default=10, help="errors to print per kind")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    pages = load_pages()

    natural: Counter[str] = Counter()
    planted: Counter[str] = Counter()
    found: Counter[str] = Counter()
    false: Counter[str] = Counter()
    lookalikes = 0
    errors: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for page in pages:
        before = Counter((item.kind, page[item.start:item.end]) for item in find_pii(page))
        natural.update(kind for kind, _ in before.elements())
        text, spans = plant(page, rng, args.per_kind)
        lookalikes += sum(kind == "lookalike" for _, _, kind in spans)
        exact = {(start, end): kind for start, end, kind in spans}
        hit: set[tuple[int, int]] = set()
        for item in find_pii(text):
            value = text[item.start:item.end]
            if exact.get((item.start, item.end)) == item.kind:
                found[item.kind] += 1
                hit.add((item.start, item.end))
            elif before[(item.kind, value)] > 0:
                before[(item.kind, value)] -= 1  # the page's own PII, found again
            else:
                false[item.kind] += 1
                context = text[item.start - 20:item.end + 20]
                errors[item.kind].append(f"false {item.kind}: {context!r}")
        for start, end, kind in spans:
            if kind == "lookalike":
                continue
            planted[kind] += 1
            if (start, end) not in hit:
                errors[kind].append(f"missed {kind}: {text[start - 20:end + 20]!r}")

    print(f"{len(pages)} real pages; planted {sum(planted.values())} PII items and "
          f"{lookalikes} look-alikes (seed {args.seed})\n")
    print("| kind | planted | found | false positives | precision | recall | on the pages "
          "before planting |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind in KINDS:
        precision = found[kind] / max(found[kind] + false[kind], 1)
        recall = found[kind] / max(planted[kind], 1)
        print(f"| {kind} | {planted[kind]} | {found[kind]} | {false[kind]} | {precision:.4f} | "
              f"{recall:.4f} | {natural[kind]} |")
    for kind in KINDS:
        for line in errors[kind][:args.show]:
            print(line)

    step = build_step("pii", None)
    size = sum(len(page.encode()) for page in pages)
    timings = []
    for _ in range(3):
        started = time.process_time()
        for number, page in enumerate(pages):
            step(Document(str(number), page))
        timings.append(time.process_time() - started)
    seconds = sorted(timings)[1]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npii step alone, median of 3 (CPU time): {len(pages) / seconds:,.0f} docs/s, "
          f"{size / seconds / 1e6:.1f} MB/s per core; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
