"""Deduplication: global steps that keep one document of each group of copies."""

from tamis.dedup import exact as exact
from tamis.dedup import lines as lines
from tamis.dedup import near as near
