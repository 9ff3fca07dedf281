"""Registered domains of URLs, with the Public Suffix List snapshot that `tldextract` ships.

`tldextract` (what datatrove uses) would fetch a fresh suffix list over the network on first
use; here it is built with no suffix-list URL and no cache folder, so it reads only the snapshot
inside the package, whatever the machine's network. `bbc.co.uk` is the registered domain of
`https://www.bbc.co.uk/news`, `example.com` that of `http://a.b.example.com:8080/`.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlsplit

NO_URL = "(no url)"


@cache
def _extractor() -> Any:
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=1 << 16)
def registered_domain(url: str) -> str:
    """The registered domain of a URL (its host if the host is an IP address or has no known
    suffix); `NO_URL` for an empty URL."""
    if not url:
        return NO_URL
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:  # a malformed URL (bad port, brackets)
        host = ""
    if not host:
        return NO_URL
    parts = _extractor()(host)
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    return host
