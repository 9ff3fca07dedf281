"""Thresholds over signals that turn into verdicts with reasons."""

from tamis.filters import basic as basic
