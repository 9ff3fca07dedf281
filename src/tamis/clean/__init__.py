"""Span cleaners: remove junk spans from a document and record each cut with its rule."""
