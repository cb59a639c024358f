"""Search normalisation: the same folding for stored text and for the query.

Only what users type interchangeably is folded: Arabic diacritics (tashkeel) and tatweel are
dropped, alef forms become bare alef, taa marbuta becomes haa, alef maqsura becomes yaa, and Latin
text is case-folded. Hamza on waw or yaa (ؤ, ئ) is kept: those spell different words.

Every service's bilingual `q` uses it: a `search_text` column (trigram-indexed) holds the
normalised fields, and each query term must occur in it (`like_any_term`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

# Harakat, tanween, shadda, sukun, Quranic annotation marks, superscript alef, and tatweel.
_DROPPED = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
# (from, to): single letters, none of them another's result, so the order does not matter.
_FOLDS = (
    ("\u0623", "\u0627"),  # أ
    ("\u0625", "\u0627"),  # إ
    ("\u0622", "\u0627"),  # آ
    ("\u0671", "\u0627"),  # ٱ
    ("\u0629", "\u0647"),  # ة → ه
    ("\u0649", "\u064a"),  # ى → ي
)


def normalize(text: str | None) -> str:
    if not text:
        return ""
    if text.isascii():
        # Nothing to fold but case and spaces: NFKC and the Arabic folds leave ASCII as it is.
        return " ".join(text.lower().split())
    # NFKC first: presentation forms (ﻷ, ﺓ) become letters, and a separate madda or hamza
    # composes onto its alef, so both spellings reach the folds below.
    folded = _DROPPED.sub("", unicodedata.normalize("NFKC", text))
    for letter, bare in _FOLDS:  # a scan per letter: quicker than str.translate's look-ups
        folded = folded.replace(letter, bare)
    # Runs of whitespace (str.split's, which is the regular expressions' \s) become one space.
    return " ".join(folded.casefold().split())


def search_text(*parts: str | None) -> str:
    """The stored, indexed column: every searchable field, normalised, one space apart."""
    return " ".join(n for n in (normalize(p) for p in parts) if n)


def query_terms(q: str) -> list[str]:
    """Each whitespace-separated term of a query must occur somewhere in the search text."""
    return [term for term in normalize(q).split(" ") if term]


MAX_TERMS = 8


def like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matches(column: Any, q: str | None) -> list[Any]:
    """WHERE clauses for a bilingual query over a normalised `search_text` column: every term
    (at most MAX_TERMS) occurs in it; LIKE wildcards in the query match themselves."""
    if not q:
        return []
    return [
        column.like(f"%{like_escape(term)}%", escape="\\") for term in query_terms(q)[:MAX_TERMS]
    ]


def matches_sql(column: str, q: str | None, bind: Callable[[Any], str]) -> list[str]:
    """`matches` as SQL text on the driver's connection: a `column LIKE $n` clause per term,
    each pattern bound with `bind`."""
    return [
        f"{column} LIKE {bind(f'%{like_escape(term)}%')} ESCAPE '\\'"
        for term in query_terms(q or "")[:MAX_TERMS]
    ]
