"""The one place that imports OpenTelemetry, on first use (the ``otel`` extra).

``import arvo_concurrent`` never imports ``opentelemetry``: :func:`require_otel` does,
when a :class:`~arvo_concurrent.observability.Telemetry` is made, and turns a missing
package into a :class:`~arvo_concurrent.errors.MissingExtraError` naming the pip
command.
"""

from __future__ import annotations

from types import ModuleType

from arvo_concurrent.errors import MissingExtraError

__all__ = ["require_otel"]


def require_otel(feature: str) -> tuple[ModuleType, ModuleType, ModuleType, ModuleType]:
    """``(trace, metrics, propagate, context)`` of the OpenTelemetry API.

    Raises:
        MissingExtraError: ``opentelemetry-api`` is not installed (extra ``otel``).
    """
    try:
        from opentelemetry import context, metrics, propagate, trace  # noqa: PLC0415
    except ImportError as exc:
        raise MissingExtraError("otel", "opentelemetry-api", feature) from exc
    return trace, metrics, propagate, context
