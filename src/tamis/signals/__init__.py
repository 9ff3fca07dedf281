"""Pure functions from a document's split to named numbers."""
