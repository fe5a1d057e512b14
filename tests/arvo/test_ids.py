"""Event ids: uuid4, DEVELOPER_MANAGED and ARVO_MANAGED (docs/arvo-model.md §1.5).

The 13 ids of the TypeScript fixture ids.json are reproduced in test_fixtures.py.
"""

from __future__ import annotations

import uuid

import pytest

from arvo_concurrent.arvo import (
    ArvoEventIdContent,
    ArvoEventIdError,
    create_arvo_event_id,
    parse_arvo_event_id,
)
from arvo_concurrent.arvo.ids import js_trim

REFERENCE_UUID = "00000000-0000-4000-8000-000000000000"
REFERENCE_ID = "eJyrViotzUxRslIygAJdMGECIixgXBhQ0lEqS8wpTQUqL87PTS3JyMxLV6oFABRYEQs="


def _is_uuid4(value: str) -> bool:
    return uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value


def test_reference_vector_of_the_spec() -> None:
    spec = {"deduplication": "ARVO_MANAGED", "value": "something"}
    assert create_arvo_event_id(spec, uuid_value=REFERENCE_UUID) == REFERENCE_ID


def test_arvo_managed_id_parses_back_to_its_content() -> None:
    event_id = create_arvo_event_id({"deduplication": "ARVO_MANAGED", "value": "  order-42  "})
    content = parse_arvo_event_id(event_id)
    assert content is not None
    assert content.value == "order-42"
    assert _is_uuid4(content.uuid)


def test_arvo_managed_ids_of_one_value_differ_by_uuid() -> None:
    spec = {"deduplication": "ARVO_MANAGED", "value": "same"}
    assert create_arvo_event_id(spec) != create_arvo_event_id(spec)


def test_developer_managed_id_is_the_trimmed_value() -> None:
    spec = {"deduplication": "DEVELOPER_MANAGED", "value": "\ufeff  my-own-id-123 \u3000"}
    assert create_arvo_event_id(spec) == "my-own-id-123"


@pytest.mark.parametrize("spec", [None, {"deduplication": "ARVO_MANAGED", "value": " \t "}])
def test_no_spec_or_blank_value_gives_a_uuid4(spec: dict[str, str] | None) -> None:
    assert _is_uuid4(create_arvo_event_id(spec))


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"deduplication": "ARVO", "value": "x"}, "deduplication must be one of"),
        ({"value": "x"}, "deduplication must be one of"),
        ({"deduplication": "ARVO_MANAGED", "value": 5}, "value must be a string"),
    ],
)
def test_a_bad_spec_is_rejected_naming_it(spec: dict[str, object], reason: str) -> None:
    with pytest.raises(ArvoEventIdError, match=reason) as caught:
        create_arvo_event_id(spec)  # type: ignore[arg-type]
    assert caught.value.spec is spec
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "event_id",
    [
        "d380a7f2-6e1b-4c39-9a55-2a5d0c8f7e11",
        "not base64 !",
        "aGVsbG8=",  # base64 of "hello", not zlib
        "eJyrVspOrVSyUipLzClNVaoFAChMBSE=",  # zlib of {"key":"value"}: wrong shape
    ],
)
def test_parse_returns_none_for_ids_that_are_not_arvo_managed(event_id: str) -> None:
    assert parse_arvo_event_id(event_id) is None


def test_parse_returns_the_content_struct() -> None:
    assert parse_arvo_event_id(REFERENCE_ID) == ArvoEventIdContent(
        uuid=REFERENCE_UUID, value="something"
    )


@pytest.mark.parametrize(
    ("value", "trimmed"),
    [
        ("  x  ", "x"),
        ("\ufeff\u00a0 bom \u2003\u3000", "bom"),
        ("\x1cx\x1c", "\x1cx\x1c"),  # not JavaScript whitespace, though str.strip() removes it
        ("\x85x", "\x85x"),
        ("a  b", "a  b"),
    ],
)
def test_js_trim_strips_exactly_javascript_whitespace(value: str, trimmed: str) -> None:
    assert js_trim(value) == trimmed
