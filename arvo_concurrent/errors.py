"""The root of every exception this library raises on purpose.

Each part of the library (the Arvo model, memory, broker) derives its own errors
from :class:`ArvoConcurrentError`, and also from the closest standard exception
(``ValueError``, ``TimeoutError``, ``RuntimeError``) so that callers can catch
either. Errors carry the event or id they are about as attributes.

Shared by every part: a bad argument or setting is an :class:`ArgumentError` (a
``ValueError``; :class:`ArgumentTypeError` is also a ``TypeError``), a wait that runs
out of time a :class:`WaitTimeoutError` (a ``TimeoutError``), work handed to a closed
component a :class:`ClosedError`.
"""

from __future__ import annotations

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "ArvoConcurrentError",
    "ClosedError",
    "MissingExtraError",
    "WaitTimeoutError",
]


class ArvoConcurrentError(Exception):
    """Base class of every error raised by arvo-concurrent."""


class ArgumentError(ArvoConcurrentError, ValueError):
    """An argument or setting given to the library has a bad value; raised in the caller.

    Nothing was done. A ``ValueError`` too, so callers that catch that keep working.
    Subclasses name the part it is about (``MemoryConfigError``, ``SubscriptionError``).

    Attributes:
        name: what was wrong: the argument, setting or key (``"timeout"``,
            ``"retry.max_retries"``, ``"max_hops"``...).
        value: the value that was refused.
    """

    def __init__(self, message: str, name: str, value: object) -> None:
        super().__init__(message)
        self.name = name
        self.value = value


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument, setting or user function's result has the wrong type.

    A ``TypeError`` (what it used to be) and an :class:`ArgumentError` (a
    ``ValueError``) like every bad argument.
    """


class ClosedError(ArvoConcurrentError, RuntimeError):
    """Raised when work is handed to a component after its ``close()``.

    Attributes:
        component: the name of the closed component (``"broker"``, ``"memory"``...).
    """

    def __init__(self, component: str) -> None:
        super().__init__(f"The {component} is closed and accepts no more work")
        self.component = component


class WaitTimeoutError(ArvoConcurrentError, TimeoutError):
    """A blocking call waited its whole ``timeout`` without the answer it waits for.

    The one timeout error of the library. Its subclasses say which wait timed out,
    where callers need to tell them apart and what they carry differs
    (``IdleTimeoutError``, ``ResolveTimeoutError``, ``MemoryTimeoutError``).

    Attributes:
        timeout: how long the caller waited, in seconds.
    """

    def __init__(self, message: str, timeout: float) -> None:
        super().__init__(message)
        self.timeout = timeout


class MissingExtraError(ArvoConcurrentError, ImportError):
    """An optional feature was used without the extra that installs its packages.

    Raised when the feature is first used (never on ``import arvo_concurrent``); the
    message holds the pip command that installs what is missing.

    Attributes:
        extra: the extra to install (``"otel"``, ``"cloudevents"``...).
        package: the distribution that could not be imported.
        feature: what was being used.
    """

    def __init__(self, extra: str, package: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the '{package}' package, which is not installed: "
            f"pip install 'arvo-concurrent[{extra}]'"
        )
        self.extra = extra
        self.package = package
        self.feature = feature
