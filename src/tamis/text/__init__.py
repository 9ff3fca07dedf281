"""The one place where text is normalised and split.

`normalize` holds the normalisation step; the split shared by every signal lives beside it.
"""

from tamis.text import normalize as normalize
