"""Thresholds over signals that turn into verdicts with reasons.

`basic` holds what every pipeline needs; `gopher`, `c4` and `fineweb` the published filters;
`language` keeps the wanted languages; `blocklists` holds the URL and bad-words filters;
`decontaminate` removes text that overlaps evaluation benchmarks; `classifier` scores
documents with the user's fastText model; `tokens` only counts tokens with the user's tokenizer.
"""

from tamis.filters import basic as basic
from tamis.filters import blocklists as blocklists
from tamis.filters import c4 as c4
from tamis.filters import classifier as classifier
from tamis.filters import decontaminate as decontaminate
from tamis.filters import fineweb as fineweb
from tamis.filters import gopher as gopher
from tamis.filters import language as language
from tamis.filters import tokens as tokens
