"""The ViolationError tree (docs/arvo-model.md §2.4)."""

from __future__ import annotations

import pytest

from arvo_concurrent.arvo import (
    ConfigViolation,
    ContractViolation,
    ExecutionViolation,
    TransactionCause,
    TransactionViolation,
    ViolationError,
    is_transaction_violation_error,
    is_violation_error,
)
from arvo_concurrent.errors import ArvoConcurrentError


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (ContractViolation, "Contract"),
        (ConfigViolation, "Config"),
        (ExecutionViolation, "Execution"),
    ],
)
def test_subclasses_carry_their_type_in_name_and_message(
    cls: type[ContractViolation], kind: str
) -> None:
    error = cls("bad input", {"field": "numbers"})
    assert error.type == kind
    assert error.name == f"ViolationError<{kind}>"
    assert error.message == f"ViolationError<{kind}> bad input"
    assert str(error) == error.message
    assert error.metadata == {"field": "numbers"}
    assert isinstance(error, ViolationError)
    assert isinstance(error, ArvoConcurrentError)
    assert is_violation_error(error)
    assert not is_transaction_violation_error(error)


def test_metadata_defaults_to_none() -> None:
    assert ViolationError("Custom", "m").metadata is None


def test_transaction_violation() -> None:
    event = object()
    error = TransactionViolation(TransactionCause.LOCK_UNACQUIRED, "lock denied", event)
    assert error.type == "OrchestratorTransaction"
    assert error.cause is TransactionCause.LOCK_UNACQUIRED
    assert error.message == "ViolationError<OrchestratorTransaction> [LOCK_UNACQUIRED] lock denied"
    assert error.metadata == {"initiatingEvent": event}
    assert error.initiating_event is event
    assert is_transaction_violation_error(error)
    assert is_transaction_violation_error(error, TransactionCause.LOCK_UNACQUIRED)
    assert not is_transaction_violation_error(error, TransactionCause.INVALID_SUBJECT)


def test_transaction_cause_accepts_its_string_value_and_refuses_others() -> None:
    error = TransactionViolation("READ_MACHINE_MEMORY_FAILURE", "read failed")  # type: ignore[arg-type]
    assert error.cause is TransactionCause.READ_MACHINE_MEMORY_FAILURE
    with pytest.raises(ValueError, match="NOT_A_CAUSE"):
        TransactionViolation("NOT_A_CAUSE", "x")  # type: ignore[arg-type]


def test_transaction_causes_are_the_arvo_strings() -> None:
    assert {cause.value for cause in TransactionCause} == {
        "READ_MACHINE_MEMORY_FAILURE",
        "LOCK_MACHINE_MEMORY_FAILURE",
        "WRITE_MACHINE_MEMORY_FAILURE",
        "LOCK_UNACQUIRED",
        "INVALID_SUBJECT",
    }


class LookAlikeError(Exception):
    """An error from elsewhere that carries the Arvo violation shape."""

    is_arvo_violation_error = True
    type = "Contract"
    name = "ViolationError<Contract>"
    message = "ViolationError<Contract> foreign"


class FlagOnlyError(Exception):
    is_arvo_violation_error = True


def test_is_violation_error_is_structural() -> None:
    assert is_violation_error(LookAlikeError())
    assert not is_violation_error(FlagOnlyError())
    assert not is_violation_error(ValueError("plain"))
    assert not is_violation_error("ViolationError<Contract> not an exception")
    assert not is_violation_error(ViolationError("", "empty type"))
