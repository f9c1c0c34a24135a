"""A subset of X's v2 search query language: parse a query once, then match it against many tweets. Pure.

The hot-topics pack sends one query per place, `("trend one" OR #TrendTwo ...) place_country:US`, and the
emulator must answer it the way X would, over some hundred thousand tweets an hour: hence a real parser (a word
list cannot express OR, grouping or a place) compiled to closures, an OR of terms to one regular expression, so
that matching a tweet costs a call or two.

Supported, as on X: bare terms and "quoted phrases" (case-insensitive substring match), #hashtags (match a whole
hashtag: #Storm does not match #StormChaser), implicit AND by whitespace, OR (upper case; AND binds tighter, so
`a b OR c` is `(a b) OR c`), parentheses, -negation of any of these, and the operators `place_country:XX`,
`has:links`, `lang:xx`, `is:retweet`, `is:reply`, `is:quote`. The world's tweets are all English originals, so
`is:*` matches none of them and `-is:retweet` all. Anything else (an unbalanced parenthesis or quote, an
unknown operator, an empty query, more than 512 characters) raises `QueryError`.

    query := or;  or := and ("OR" and)*;  and := unary+;  unary := "-"? atom;  atom := "(" or ")" | phrase | term
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

MAX_QUERY_LENGTH = 512  # X's limit for recent search on the basic tiers
_IS_VALUES = frozenset({"retweet", "reply", "quote"})
_STOP = frozenset(' \t\r\n()"')


class QueryError(ValueError):
    """The query is not valid in the supported subset; `message` says why (X puts it in its 400 answer)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Term:
    """A word or "phrase", lowercased; a leading # makes it a hashtag."""

    text: str


@dataclass(frozen=True, slots=True)
class Operator:
    """`name:value`, e.g. Operator("place_country", "US")."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Operator | Not | And | Or


class Doc(NamedTuple):
    """What a query looks at in a tweet: its text (lowercased), its place's country code and whether it links.
    A NamedTuple because a search builds one per tweet it reads, some hundred thousand."""

    text: str
    country: str | None = None
    has_links: bool = False
    lang: str = "en"

    @classmethod
    def of(cls, text: str, country: str | None = None, has_links: bool = False) -> Doc:
        return cls(text.lower(), country, has_links)


Predicate = Callable[[Doc], bool]


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query. `countries`: every tweet it matches has one of these country codes (None: no such limit),
    which lets a searcher look only at those places' tweets."""

    text: str
    root: Node
    countries: frozenset[str] | None
    _predicate: Predicate = field(repr=False, compare=False)

    def matches(self, doc: Doc) -> bool:
        return self._predicate(doc)


def parse(text: str) -> Query:
    """Parse `text` (QueryError when it is malformed)."""
    if not text.strip():
        raise QueryError("the query is empty")
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is {len(text)} characters long; the limit is {MAX_QUERY_LENGTH}")
    root = _Parser(_tokens(text)).query()
    return Query(text, root, _countries(root), _compile(root))


# -- tokens ------------------------------------------------------------------------------------------------------

# ("(" | ")" | "OR" | "-" | "word" | "phrase", text)
Token = tuple[str, str]


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append((c, c))
            i += 1
        elif c == "-":
            if i + 1 == len(text) or text[i + 1].isspace() or text[i + 1] == ")":
                raise QueryError(f"a '-' at position {i} negates nothing")
            tokens.append(("-", c))
            i += 1
        elif c == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QueryError(f"the quote at position {i} is never closed")
            tokens.append(("phrase", text[i + 1 : end]))
            i = end + 1
        else:
            start = i
            while i < len(text) and text[i] not in _STOP:
                i += 1
            word = text[start:i]
            tokens.append(("OR", word) if word == "OR" else ("word", word))
    return tokens


# -- parser ------------------------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the tokens, one method per grammar rule."""

    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._at = 0

    def query(self) -> Node:
        node = self._or()
        if self._at < len(self._tokens):
            raise QueryError(f"unexpected {self._tokens[self._at][1]!r} (an unbalanced parenthesis?)")
        return node

    def _peek(self) -> str | None:
        return self._tokens[self._at][0] if self._at < len(self._tokens) else None

    def _or(self) -> Node:
        children = [self._and()]
        while self._peek() == "OR":
            self._at += 1
            children.append(self._and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def _and(self) -> Node:
        children: list[Node] = []
        while self._peek() not in (None, ")", "OR"):
            children.append(self._unary())
        if not children:
            raise QueryError("OR, a group or the query lacks a term")
        return children[0] if len(children) == 1 else And(tuple(children))

    def _unary(self) -> Node:
        if self._peek() == "-":
            self._at += 1
            if self._peek() in (None, ")", "OR", "-"):
                raise QueryError("a '-' negates nothing")
            return Not(self._atom())
        return self._atom()

    def _atom(self) -> Node:
        kind, text = self._tokens[self._at]
        self._at += 1
        if kind == "(":
            node = self._or()
            if self._peek() != ")":
                raise QueryError("a '(' is never closed")
            self._at += 1
            return node
        if kind == "phrase":
            if not text.strip():
                raise QueryError('an empty "phrase"')
            return Term(text.lower())
        return _word(text)


def _word(text: str) -> Node:
    name, colon, value = text.partition(":")
    if not colon or not name.replace("_", "").isalpha():
        return Term(text.lower())  # ":-D" or "12:30": words, not operators
    return _operator(name, value)


def _operator(name: str, value: str) -> Operator:
    if name == "place_country" and len(value) == 2 and value.isalpha() and value.isascii():
        return Operator(name, value.upper())
    if name == "has" and value == "links":
        return Operator(name, value)
    if name == "lang" and 2 <= len(value) <= 3 and value.isalpha() and value.isascii():
        return Operator(name, value.lower())
    if name == "is" and value in _IS_VALUES:
        return Operator(name, value)
    if name in ("place_country", "has", "lang", "is"):
        raise QueryError(f"{name}:{value} is not supported (place_country:XX, has:links, lang:xx, is:retweet)")
    raise QueryError(f"unknown operator {name}:")


# -- analysis and compilation --------------------------------------------------------------------------------------


def _countries(node: Node) -> frozenset[str] | None:
    """Country codes one of which every match must have, or None. An over-approximation: AND intersects what its
    parts require, OR needs every branch to require something, and a negation requires nothing."""
    if isinstance(node, Operator):
        return frozenset({node.value}) if node.name == "place_country" else None
    if isinstance(node, And):
        required = [c for c in map(_countries, node.children) if c is not None]
        return frozenset.intersection(*required) if required else None
    if isinstance(node, Or):
        branches = [_countries(child) for child in node.children]
        if any(b is None for b in branches):
            return None
        return frozenset().union(*(b for b in branches if b is not None))
    return None


def _compile(node: Node) -> Predicate:
    if isinstance(node, Term):
        return _terms((node,))
    if isinstance(node, Operator):
        return _operator_predicate(node)
    if isinstance(node, Not):
        inner = _compile(node.child)
        return lambda doc: not inner(doc)
    if isinstance(node, And):
        return _all([_compile(child) for child in node.children])
    # An OR of terms (the usual `("a b" OR #c ...)`) is one regular expression: one C call per tweet.
    terms = [child for child in node.children if isinstance(child, Term)]
    others = [_compile(child) for child in node.children if not isinstance(child, Term)]
    return _any([_terms(terms), *others] if terms else others)


def _terms(terms: Sequence[Term]) -> Predicate:
    """Whether any of the terms occurs: a substring, or for a #hashtag a whole hashtag."""
    if len(terms) == 1 and not _is_hashtag(terms[0].text):
        needle = terms[0].text
        return lambda doc: needle in doc.text
    search = re.compile("|".join(re.escape(t.text) + (r"(?!\w)" if _is_hashtag(t.text) else "") for t in terms)).search
    return lambda doc: search(doc.text) is not None


def _is_hashtag(text: str) -> bool:
    return len(text) > 1 and text.startswith("#")


def _all(parts: list[Predicate]) -> Predicate:
    if len(parts) == 2:
        first, second = parts
        return lambda doc: first(doc) and second(doc)
    return lambda doc: all(part(doc) for part in parts)


def _any(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    return lambda doc: any(part(doc) for part in parts)


def _operator_predicate(op: Operator) -> Predicate:
    if op.name == "place_country":
        return lambda doc: doc.country == op.value
    if op.name == "has":
        return lambda doc: doc.has_links
    if op.name == "lang":
        return lambda doc: doc.lang == op.value
    return lambda doc: False  # is:retweet, is:reply, is:quote: every doc is an original tweet
