"""encode_uri / decode_uri / validate_uri against JavaScript's answers (docs/arvo-model.md §1.2).

Every entry of the TypeScript fixture uri.json is checked in test_fixtures.py; these are the
spec's own examples, the error cases and round-trip properties.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arvo_concurrent.arvo import UriError, decode_uri, encode_uri, validate_uri


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a b", False),
        ("a%20b", True),
        ("a%2Fb", False),
        ("%C3%A9", True),
        ("%c3%a9", False),
        ("é", False),
        ("100%", False),
        ("[x]", False),
        ("a|b", False),
        ("#/org/amas/calculator/add/1.0.0", True),
        ("eJw9TkEOwkAI/AvnStbEg+lvSItK3F0SSluTTf8uVuscJgxDZmigNjx4ciNXg75B=", True),
        ("", True),
    ],
)
def test_validate_uri_matches_the_verified_javascript_results(value: str, expected: bool) -> None:
    assert validate_uri(value) is expected


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a b", "a%20b"),
        ("x%20y", "x%2520y"),
        ("100%", "100%25"),
        ("é", "%C3%A9"),
        ("😀", "%F0%9F%98%80"),
        ("[::1]:8080", "%5B::1%5D:8080"),
        ("-_.!~*'()", "-_.!~*'()"),
        (";,/?:@&=+$#", ";,/?:@&=+$#"),
        ("tab\there", "tab%09here"),
    ],
)
def test_encode_uri_escapes_like_javascript(value: str, encoded: str) -> None:
    assert encode_uri(value) == encoded


@pytest.mark.parametrize(
    ("value", "decoded"),
    [
        ("a%20b", "a b"),
        ("%2520", "%20"),
        ("a%2Fb", "a%2Fb"),  # escapes of reserved characters stay as written
        ("a%2fb", "a%2fb"),
        ("%23", "%23"),
        ("%41", "A"),
        ("%c3%A9", "é"),
        ("%F0%9F%98%80", "😀"),
        ("no escapes", "no escapes"),
    ],
)
def test_decode_uri_decodes_like_javascript(value: str, decoded: str) -> None:
    assert decode_uri(value) == decoded


MALFORMED = ["%", "100%", "%zz", "%2", "%E6%97", "%FF", "%C0%AF", "%ED%A0%80"]


@pytest.mark.parametrize("value", MALFORMED)
def test_decode_uri_rejects_malformed_escapes_naming_the_value(value: str) -> None:
    with pytest.raises(UriError, match="URI malformed") as caught:
        decode_uri(value)
    assert caught.value.value == value
    assert validate_uri(value) is False


@pytest.mark.parametrize("value", ["\ud800", "x\udc00"])
def test_encode_uri_rejects_lone_surrogates(value: str) -> None:
    with pytest.raises(UriError, match="lone surrogate") as caught:
        encode_uri(value)
    assert caught.value.value == value
    assert isinstance(caught.value, ValueError)


@given(st.text())
def test_decode_undoes_encode(value: str) -> None:
    assert decode_uri(encode_uri(value)) == value


@given(st.text())
def test_every_encoded_string_is_a_valid_uri(value: str) -> None:
    assert validate_uri(encode_uri(value))


_UNESCAPED = "ABCxyz0189;,/?:@&=+$-_.!~*'()#"


@given(st.text(alphabet=_UNESCAPED))
def test_strings_of_unescaped_characters_pass_through_unchanged(value: str) -> None:
    assert encode_uri(value) == value
    assert decode_uri(value) == value
    assert validate_uri(value)
