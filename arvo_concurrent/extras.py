"""Optional extras: import one on first use, or say which pip command installs it.

``import arvo_concurrent`` imports no optional package; a feature that needs one calls
:func:`require_extra` when it is first used, which turns a missing package into a
:class:`~arvo_concurrent.errors.MissingExtraError` naming the extra to install.
"""

from __future__ import annotations

import importlib

from arvo_concurrent.errors import MissingExtraError

__all__ = ["require_extra"]


def require_extra(module: str, *, extra: str, package: str, feature: str) -> None:
    """Import ``module`` (from the distribution ``package``, installed by ``extra``).

    Raises:
        MissingExtraError: it cannot be imported; the message has the pip command.
    """
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(extra, package, feature) from exc
