"""Deduplication: global steps that keep one document of each group of copies."""

from tamis.dedup import exact as exact
