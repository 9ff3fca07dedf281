"""Pure functions from a document's split to named numbers.

Each module holds one published family: `gopher` (quality and repetition), `c4` (line and page
rules), `fineweb` (FineWeb quality), `language` (fastText language ID). They never tokenise on
their own: they read `tamis.text.split.Split`, computed once per document. `classifier` scores
a document with the user's fastText model, which reads the raw text as fastText expects.
"""
