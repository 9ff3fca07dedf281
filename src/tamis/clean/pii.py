"""PII redaction: e-mail addresses, phone numbers, public IP addresses, card numbers, IBANs, SSNs.

Each kind is found in two steps: a regular expression proposes candidates, then a check that
knows the format confirms them (libphonenumber's numbering plans, the Luhn and IBAN checksums,
the SSN area rules, `ipaddress`'s reserved ranges). The checks carry the precision: a date, a
price, an ISBN or a version number matches no numbering plan or checksum, and formats that are
only digits (a bare 10-digit number) are not taken as phones at all.

Each replacement is an edit with rule `pii.<kind>`, so the report counts them. By default the
replaced text is *withheld* from the output records: the edit says where the address was and how
long it was, never what it was (rebuilding the input from the output then gives `WITHHELD`
characters there). Whatever else the run writes is redacted too (`Pii.redact_output`): removed
documents, the originals of other rules' cuts, error records' raw bytes; see docs/pii.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import phonenumbers
import regex
from pydantic import Field, field_validator
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.exceptions import ValidationError
from stdnum.us import ssn as stdnum_ssn

from tamis.document import Change, Document, withhold
from tamis.step import Step, StepOptions, register

Kind = Literal["email", "phone", "ip", "card", "iban", "ssn"]

# When two finds overlap, the kind listed first wins (an IBAN's digits are not also a phone).
KINDS: tuple[Kind, ...] = ("email", "iban", "card", "ssn", "ip", "phone")

PLACEHOLDERS: dict[str, str] = {
    "email": "<email>", "phone": "<phone>", "ip": "<ip>",
    "card": "<card>", "iban": "<iban>", "ssn": "<ssn>",
}


@dataclass(frozen=True, slots=True)
class Found:
    """One piece of PII: where it is in the text and what kind it is."""

    start: int
    end: int
    kind: Kind


# -- e-mail ------------------------------------------------------------------------------------

_EMAIL = regex.compile(
    r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})(?![\w-])")
# "logo@2x.png" and "icon@3x.webp" are image names, not addresses.
_FILE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "avif",
                            "js", "css", "mp4", "webm", "pdf", "html", "php"})


def find_emails(text: str) -> Iterator[tuple[int, int]]:
    for match in _EMAIL.finditer(text):
        if match.group(1).lower() not in _FILE_SUFFIXES:
            yield match.span()


# -- phone numbers -----------------------------------------------------------------------------

# Digit groups joined by single separators, optionally after "+" or "00": "+44 20 7946 0958",
# "(555) 123-4567", "+41415447800". Matching stops at letters, so "ISBN-13" or "v1.2" is out.
_GROUP = r"(?:\(\d{1,5}\)|\d{1,10})"
_JOIN = r"(?:[ ]?[-./][ ]?|[ ]|(?=\())"
_PHONE = regex.compile(
    rf"(?<![\w+\-./])(?:\+[ ]?\d{{7,15}}|(?:\+[ ]?|\b00[ ]?)?{_GROUP}(?:{_JOIN}{_GROUP}){{1,6}})"
    r"(?![\w]|[-./]\d)")
_DIGIT = regex.compile(r"\d+")
# d.m.y, y-m-d and m/d/y dates, alone or with a time's hour after them.
_DATE = regex.compile(r"(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2})\b")


def _phone_shaped(candidate: str, groups: list[str]) -> bool:
    """Is the candidate laid out like a phone number rather than a date, score or list?"""
    digits = sum(len(group) for group in groups)
    if not 7 <= digits <= 15:
        return False
    if _DATE.match(candidate.lstrip("+0 ")):
        return False
    if candidate.startswith(("+", "00")):
        return True  # French pairs ("+33 1 42 68 53 00") are tiny groups too
    # A calendar row ("26 27 28 29 30") or a table of scores is many tiny groups; a phone
    # written the national way has at most one.
    return sum(len(group) <= 2 for group in groups) <= 1


def find_phones(text: str, regions: tuple[str, ...]) -> Iterator[tuple[int, int]]:
    for match in _PHONE.finditer(text):
        span = _phone_within(match.group(), regions)
        if span is not None:
            yield match.start() + span[0], match.start() + span[1]


def _phone_within(run: str, regions: tuple[str, ...]) -> tuple[int, int] | None:
    """The longest phone number in a run of digit groups: the run itself, or the run without
    up to two groups at either end (a year before the number, a date after it)."""
    groups = list(_DIGIT.finditer(run))
    tries = []
    for first in range(min(3, len(groups))):
        for last in range(len(groups) - 1, max(first, len(groups) - 3) - 1, -1):
            start = 0 if first == 0 else groups[first].start()
            if start and run[start - 1] == "(":
                start -= 1
            end = groups[last].end()
            if end < len(run) and run[end] == ")":
                end += 1
            tries.append((last - first, -start, start, end))
    for *_, start, end in sorted(tries, reverse=True):
        if _is_phone(run[start:end], regions):
            return start, end
    return None


def _is_phone(candidate: str, regions: tuple[str, ...]) -> bool:
    groups = _DIGIT.findall(candidate)
    if not _phone_shaped(candidate, groups):
        return False
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    if candidate.startswith("+"):
        return _valid_phone(candidate, None)
    if len(groups) < 2:
        return False  # a bare run of digits is an id, a price or a count far more often
    return any(_valid_phone(candidate, region) for region in regions)


def _valid_phone(candidate: str, region: str | None) -> bool:
    """Is it a valid number, and (in national form) grouped as the region writes its numbers?

    The grouping check is what keeps "27/027/36500" (a German tax number) from being read as
    the US phone (270) 273-6500: its digits are valid, its layout is not American.
    """
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    if region is None:
        return phonenumbers.is_valid_number(number)
    if not phonenumbers.is_valid_number_for_region(number, region):
        return False
    written = [len(group) for group in _DIGIT.findall(candidate)]
    usual = [len(group) for group in _DIGIT.findall(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))]
    # A leading country code or trunk prefix ("1-305-677-6594") is a group of its own.
    return written in (usual, [len(str(number.country_code)), *usual], [1, *usual])


# -- IP addresses ------------------------------------------------------------------------------

_IPV4 = regex.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = regex.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# "v1.2.3.4", "version 2.10.0.1", "build 10.0.190.1": software versions, not addresses.
_VERSION_BEFORE = regex.compile(r"(?i)(?:\bv|\bver\.?|version|build|release|firmware|rev\.?)"
                                r"\s*$")
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


def find_ips(text: str) -> Iterator[tuple[int, int]]:
    for match in _IPV4.finditer(text):
        if _VERSION_BEFORE.search(text, max(match.start() - 12, 0), match.start()):
            continue
        try:
            address = ipaddress.IPv4Address(match.group())
        except ValueError:  # an octet over 255, or a leading zero
            continue
        if address.is_global:
            yield match.span()
    for match in _IPV6.finditer(text):
        if match.group().count(":") < 2:
            continue
        try:
            address6 = ipaddress.IPv6Address(match.group())
        except ValueError:
            continue
        if address6 in _GLOBAL_UNICAST and address6.is_global:
            yield match.span()


# -- card numbers ------------------------------------------------------------------------------

# 13 to 19 digits, contiguous or in groups of 4 (Amex and Diners: 4-6-5 and 4-6-4).
_CARD = regex.compile(r"(?<![\w.,-])(?<!\d[ -])"
                      r"(?:\d{13,19}|\d{4}(?:([ -])\d{4}){2,3}(?:\1\d{1,3})?|"
                      r"\d{4}([ -])\d{6}\2\d{4,5})(?![\w]|[ .,-]?\d)")
# Issuer prefixes (IIN ranges) and card lengths of the networks in wide use.
_ISSUERS: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (4, 4, (16, 19)),                     # Visa (13 digits: retired, and EAN-13 shaped)
    (51, 55, (16,)), (2221, 2720, (16,)),  # Mastercard
    (34, 34, (15,)), (37, 37, (15,)),      # American Express
    (6011, 6011, (16, 19)), (644, 649, (16, 19)), (65, 65, (16, 19)),  # Discover
    (3528, 3589, (16, 19)),               # JCB
    (300, 305, (14,)), (36, 36, (14,)), (38, 39, (14, 16)),  # Diners Club
    (62, 62, (16, 17, 18, 19)),           # UnionPay
)


def _has_issuer(digits: str) -> bool:
    for low, high, lengths in _ISSUERS:
        prefix = int(digits[:len(str(low))])
        if low <= prefix <= high and len(digits) in lengths:
            return True
    return False


def find_cards(text: str) -> Iterator[tuple[int, int]]:
    for match in _CARD.finditer(text):
        digits = match.group().replace(" ", "").replace("-", "")
        if _has_issuer(digits) and luhn.is_valid(digits):
            yield match.span()


# -- IBANs -------------------------------------------------------------------------------------

_IBAN = regex.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")


def _valid_iban(candidate: str) -> bool:
    """Country, length and mod-97 check digits. National check digits inside the account
    number are not checked: their rules differ by bank and country and are not all known."""
    try:
        stdnum_iban.validate(candidate, check_country=False)
    except ValidationError:
        return False
    return True


def find_ibans(text: str) -> Iterator[tuple[int, int]]:
    for match in _IBAN.finditer(text):
        start, end = match.span()
        # The last group may have swallowed a word after the IBAN ("... 3000 BIC"): retry
        # without it before giving up.
        for cut in (end, text.rfind(" ", start, end)):
            if cut > start and _valid_iban(text[start:cut]):
                yield start, cut
                break


# -- US social security numbers ----------------------------------------------------------------

_SSN = regex.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
_SSN_SPACED = regex.compile(r"(?i)(?:\bssn|social security(?: number| no\.?)?)\W{0,4}"
                            r"(\d{3} \d{2} \d{4})(?!\w)")


def find_ssns(text: str) -> Iterator[tuple[int, int]]:
    for match in _SSN.finditer(text):
        if stdnum_ssn.is_valid(match.group()):
            yield match.span()
    for match in _SSN_SPACED.finditer(text):  # "123 45 6789" only when called an SSN
        if stdnum_ssn.is_valid(match.group(1).replace(" ", "-")):
            yield match.span(1)


# -- all kinds together ------------------------------------------------------------------------

def find_pii(text: str, kinds: tuple[Kind, ...] = KINDS,
             phone_regions: tuple[str, ...] = ("US",)) -> list[Found]:
    """Every piece of PII in `text`, in text order, no two overlapping."""
    finders: dict[Kind, Callable[[str], Iterator[tuple[int, int]]]] = {
        "email": find_emails, "iban": find_ibans, "card": find_cards, "ssn": find_ssns,
        "ip": find_ips, "phone": lambda text: find_phones(text, phone_regions),
    }
    taken: list[Found] = []
    for kind in KINDS:
        if kind not in kinds:
            continue
        for start, end in finders[kind](text):
            if not any(start < other.end and other.start < end for other in taken):
                taken.append(Found(start, end, kind))
    return sorted(taken, key=lambda found: found.start)


class PiiOptions(StepOptions):
    # The kinds to redact.
    kinds: list[Kind] = Field(default_factory=lambda: list(KINDS))
    # What each kind is replaced with; kinds not named here keep their default placeholder.
    placeholders: dict[Kind, str] = Field(default_factory=dict)
    # Regions whose national phone formats are recognised ("(555) 123-4567" is a US number);
    # numbers written with "+" or "00" and a country code are recognised for every country.
    phone_regions: list[str] = Field(default_factory=lambda: ["US"])
    # Write the replaced text into the output records' edits (off: the point is to remove it).
    keep_original: bool = False

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, regions: list[str]) -> list[str]:
        known = phonenumbers.SUPPORTED_REGIONS
        unknown = [region for region in regions if region not in known]
        if unknown:
            raise ValueError(f"unknown phone region(s) {unknown}: use ISO 3166 two-letter "
                             "codes in capitals, such as US, GB, DE")
        return regions


@register
class Pii(Step):
    """Replace personal data with placeholders, one edit per replacement."""

    name = "pii"
    Options = PiiOptions
    options: PiiOptions

    def __init__(self, options: PiiOptions | None = None) -> None:
        super().__init__(options)
        self.kinds = tuple(self.options.kinds)
        self.regions = tuple(self.options.phone_regions)
        self.placeholders = PLACEHOLDERS | self.options.placeholders

    def __call__(self, doc: Document) -> None:
        found = find_pii(doc.text, self.kinds, self.regions)
        doc.edit([Change(item.start, item.end, f"pii.{item.kind}", item.kind,
                         self.placeholders[item.kind], withhold=not self.options.keep_original)
                  for item in found])

    def redact_output(self, doc: Document) -> None:
        """Make a document about to be written hold no PII, wherever it ended.

        The step itself runs on kept documents; a removed one is redacted here the same way
        (placeholders, withheld edits), and in every document the original of each edit
        another rule made (a cut menu, a boilerplate line) has its PII withheld. Nothing when
        `keep_original` asks for the PII in the output.
        """
        if self.options.keep_original:
            return
        if not doc.kept:
            self(doc)
        doc.withhold_within(self._spans)

    def redact_text(self, text: str) -> str:
        """`text` with its PII withheld (`WITHHELD` characters): for error records' `raw`."""
        return text if self.options.keep_original else withhold(text, self._spans)

    def _spans(self, text: str) -> Iterator[tuple[int, int]]:
        for item in find_pii(text, self.kinds, self.regions):
            yield item.start, item.end
