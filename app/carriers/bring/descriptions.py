"""Bring event descriptions: HTML to plain text, and the pickup point a description names.

Bring's Tracking API v2 (`carrier-samples/bring/tracking-api-v2.raml`, type
`Event.description`: "string") writes the event text for its tracking web
page: live replies carry markup in it, e.g. a pickup point as a link
(`<a href="...enhetsnr=122950">Spar Dokka</a>`), `<b>`/`<strong>` and
`<br>`, and HTML entities (`&amp;`, `&oslash;`). The saved examples happen
to be plain text. Markup is read with the standard library's
`html.parser` (entities unescaped by it), never with a regex.

When the text says where the parcel can be collected ("can be collected
at <name>", "has arrived at the pickup point <name>", Norwegian "kan hentes
på/hos <name>", Swedish "kan hämtas hos", Danish "kan afhentes hos"), the
name is returned by `pickup_point_name`: the link/bold text after the phrase
when there is one (the markup marks the name exactly), else the words after
the phrase up to the end of the sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_BREAKS = frozenset({"br", "p", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4"})
"""Tags that separate words: replaced by a space."""
_MARKED = frozenset({"a", "b", "strong", "em", "i", "span"})
"""Inline tags whose text is kept as a candidate name (Bring links/bolds the pickup point)."""
_SKIPPED = frozenset({"script", "style"})
"""Tags whose content is no text."""

# Words that introduce the place where the recipient collects the parcel.
_COLLECT_PHRASE = re.compile(
    r"(?:can\s+be\s+(?:collected|picked\s+up)|is\s+ready\s+(?:for\s+(?:collection|pick\s*-?\s*up)|to\s+be\s+collected)"
    r"|kan\s+hentes|er\s+klar\s+til\s+henting|kan\s+hämtas(?:\s+ut)?|kan\s+afhentes|voi\s+noutaa)"
    r"\s+(?:at|from|in|på|hos|i|vid|ved|fra|från)\b\s*"
    r"|(?:arrived|delivered|sent|been\s+delivered)\s+(?:at|to)\s+(?:the\s+|your\s+)?pickup\s+point\b\s*"
    r"|(?:ankommet|levert\s+til|kommet\s+fram\s+til)\s+(?:hentestedet|utleveringsstedet)\b\s*",
    re.IGNORECASE,
)
_LEADING_GENERIC = re.compile(
    r"^(?:(?:the|your|a)\s+)?(?:pickup\s+point|pick-up\s+point|hentestedet|hentested|utleveringsstedet|"
    r"utlämningsstället|ombudet|ombud|udleveringsstedet|pakkeshoppen)\b[\s:,-]*",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?;](?:\s|$)|\s[-–]\s|\(|$")
MAX_NAME_LENGTH = 80
"""A longer "name" is a sentence the phrase rules misread, not a pickup point."""


@dataclass
class PlainText:
    """A description as plain text, with the texts of its links/bold parts and where they start in `text`."""

    text: str
    marked: list[tuple[int, str]] = field(default_factory=list)


class _Reader(HTMLParser):
    """Collects the text of a fragment; the text inside `_MARKED` tags is also kept apart."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.marked: list[tuple[int, list[str]]] = []
        self._open_marked = 0
        self._skipping = 0

    def _length(self) -> int:
        return sum(len(part) for part in self.parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BREAKS:
            self.parts.append(" ")
        elif tag in _MARKED:
            if self._open_marked == 0:
                self.marked.append((self._length(), []))
            self._open_marked += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BREAKS:
            self.parts.append(" ")
        elif tag in _MARKED and self._open_marked:
            self._open_marked -= 1

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        self.parts.append(data)
        if self._open_marked and self.marked:
            self.marked[-1][1].append(data)


def _squash(text: str) -> str:
    return " ".join(text.split())


def read_description(value: str | None) -> PlainText:
    """`value` (Bring's description, maybe HTML) as plain text: tags dropped, entities unescaped, spaces collapsed.

    `marked` lists `(offset in text, text)` of each outermost link/bold part.
    """
    if not value:
        return PlainText(text="")
    reader = _Reader()
    reader.feed(value)
    reader.close()
    raw_text = "".join(reader.parts)
    # Offsets are taken in the uncollapsed text; map them onto the collapsed one.
    marked: list[tuple[int, str]] = []
    for offset, pieces in reader.marked:
        name = _squash("".join(pieces))
        if name:
            marked.append((len(_squash(raw_text[:offset] + "x")) - 1, name))
    return PlainText(text=_squash(raw_text), marked=marked)


def plain_description(value: str | None) -> str | None:
    """Bring's event description as plain text (see `read_description`); None when blank."""
    return read_description(value).text or None


def _clean_name(candidate: str) -> str | None:
    name = _LEADING_GENERIC.sub("", candidate.strip()).strip(" ,:;-–")
    if not name or len(name) > MAX_NAME_LENGTH:
        return None
    return name


def pickup_point_name(value: str | None) -> str | None:
    """The pickup point named by a Bring description ("... can be collected at <name>."), else None.

    The first link/bold text starting within the phrase's sentence wins;
    otherwise the words after the phrase up to the sentence end. Generic
    words ("pickup point" alone) are no name.
    """
    description = read_description(value)
    match = _COLLECT_PHRASE.search(description.text)
    if match is None:
        return None
    rest = description.text[match.end():]
    end = _SENTENCE_END.search(rest)
    sentence_end = match.end() + (end.start() if end else len(rest))
    for offset, text in description.marked:
        if match.end() - 1 <= offset <= sentence_end:
            name = _clean_name(text)
            if name:
                return name
    return _clean_name(description.text[match.end():sentence_end])
