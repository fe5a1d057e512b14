"""The root of every exception this library raises on purpose.

Each part of the library (the Arvo model, memory, broker) derives its own errors
from :class:`ArvoConcurrentError`, and also from the closest standard exception
(``ValueError``, ``TimeoutError``, ``RuntimeError``) so that callers can catch
either. Errors carry the event or id they are about as attributes.
"""

from __future__ import annotations

__all__ = ["ArvoConcurrentError", "ClosedError", "MissingExtraError"]


class ArvoConcurrentError(Exception):
    """Base class of every error raised by arvo-concurrent."""


class ClosedError(ArvoConcurrentError, RuntimeError):
    """Raised when work is handed to a component after its ``close()``.

    Attributes:
        component: the name of the closed component (``"broker"``, ``"memory"``...).
    """

    def __init__(self, component: str) -> None:
        super().__init__(f"The {component} is closed and accepts no more work")
        self.component = component


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
