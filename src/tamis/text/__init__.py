"""The one place where text is normalised and split.

`normalize` holds the normalisation step; `split` holds the split shared by every signal.
"""

from tamis.text import normalize as normalize
from tamis.text.split import Split as Split
from tamis.text.split import split as split
