"""Span cleaners: remove junk spans from a document and record each cut with its rule.

`clean_body` cuts link lists, menus, boilerplate and dangling fragments around the article;
`clean_title` cuts a keyword glued onto the title; `repeated_lead` measures near-repeats of the
lead as a signal (it cuts nothing); `pii` replaces personal data with placeholders.
"""

from tamis.clean import body as body
from tamis.clean import pii as pii
from tamis.clean import repeats as repeats
from tamis.clean import title as title
