"""The X search syntax subset: what a query parses to, what it matches, and what it refuses."""

from __future__ import annotations

import pytest

from workloads.world.query import And, Doc, Not, Operator, Or, QueryError, Term, parse

A, B, C = Term("a"), Term("b"), Term("c")


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("a", A),
        ("a b", And((A, B))),
        # AND binds tighter than OR, on either side
        ("a b OR c", Or((And((A, B)), C))),
        ("a OR b c", Or((A, And((B, C))))),
        ("(a OR b) c", And((Or((A, B)), C))),
        ("a OR b OR c", Or((A, B, C))),
        # phrases keep their spaces; everything is lowercased; "or" in lower case is a word
        ('"New York" or', And((Term("new york"), Term("or")))),
        ("#StormChaser", Term("#stormchaser")),
        # negation of a term, a phrase, a group and an operator; a dash inside a word is part of it
        ('-a -"b c" -(a OR b) -is:retweet',
         And((Not(A), Not(Term("b c")), Not(Or((A, B))), Not(Operator("is", "retweet"))))),
        ("spider-man", Term("spider-man")),
        # operators, normalised
        ("place_country:us has:links lang:EN",
         And((Operator("place_country", "US"), Operator("has", "links"), Operator("lang", "en")))),
        # words with a colon that cannot be operators stay words
        (":-D 12:30", And((Term(":-d"), Term("12:30")))),
        ('("x" OR #Y) place_country:GB', And((Or((Term("x"), Term("#y"))), Operator("place_country", "GB")))),
    ],
)  # fmt: skip
def test_parse_builds_the_tree(query: str, tree: object) -> None:
    assert parse(query).root == tree


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("(a OR b", "never closed"),
        ("a OR b)", "unbalanced"),
        ("()", "lacks a term"),
        ("a OR", "lacks a term"),
        ("OR a", "lacks a term"),
        ("a OR OR b", "lacks a term"),
        ('"unclosed', "never closed"),
        ('""', "empty"),
        ("a - b", "negates nothing"),
        ("a -", "negates nothing"),
        ("--a", "negates nothing"),
        ("url:example.com", "unknown operator url:"),
        ("has:media", "not supported"),
        ("place_country:USA", "not supported"),
        ("is:verified", "not supported"),
        ("a" * 513, "limit is 512"),
    ],
)
def test_malformed_queries_are_refused(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message) as caught:
        parse(query)
    assert caught.value.message == str(caught.value)


def test_a_query_of_512_characters_is_fine() -> None:
    assert parse("a" * 512).root == Term("a" * 512)


US_LINK = Doc.of("Storm Chasers tonight #Thunder https://youtu.be/x", "US", has_links=True)
GB_PLAIN = Doc.of("#ThunderStorm in London, just wow", "GB")
WORLD = Doc.of("storm chasers and thunder", None)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("storm", [US_LINK, GB_PLAIN, WORLD]),  # substring, any case
        ('"storm chasers"', [US_LINK, WORLD]),
        ("#thunder", [US_LINK]),  # a whole hashtag: not #ThunderStorm, not the bare word
        ("#thunderstorm OR chasers", [US_LINK, GB_PLAIN, WORLD]),
        ("storm -london", [US_LINK, WORLD]),
        ("storm -(london OR tonight)", [WORLD]),
        ("place_country:US", [US_LINK]),
        ("storm place_country:GB OR chasers place_country:US", [US_LINK, GB_PLAIN]),
        ("-place_country:US", [GB_PLAIN, WORLD]),  # Worldwide's own tweets have no country
        ("has:links", [US_LINK]),
        ("-has:links storm", [GB_PLAIN, WORLD]),
        ("lang:en storm", [US_LINK, GB_PLAIN, WORLD]),
        ("lang:ja storm", []),
        ("is:retweet", []),
        ("storm -is:retweet -is:reply -is:quote", [US_LINK, GB_PLAIN, WORLD]),
    ],
)
def test_matching(query: str, expected: list[Doc]) -> None:
    parsed = parse(query)
    assert [doc for doc in (US_LINK, GB_PLAIN, WORLD) if parsed.matches(doc)] == expected


@pytest.mark.parametrize(
    ("query", "countries"),
    [
        ("storm", None),
        ("storm place_country:US", {"US"}),
        ("(a OR b) place_country:us", {"US"}),
        ("a place_country:US OR b place_country:GB", {"US", "GB"}),
        ("a place_country:US OR b", None),  # b may come from anywhere
        ("place_country:US place_country:GB", set()),  # nothing can be in both
        ("-place_country:US", None),
    ],
)
def test_countries_bound_where_matches_can_come_from(query: str, countries: set[str] | None) -> None:
    assert parse(query).countries == (None if countries is None else frozenset(countries))


def test_a_parsed_query_is_a_value() -> None:
    assert parse("a OR b") == parse("a OR b")
    assert hash(parse("a OR b")) == hash(parse("a OR b"))
    assert parse("a OR b") != parse("a b")
