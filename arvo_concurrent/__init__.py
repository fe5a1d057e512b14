"""arvo-concurrent: concurrent in-process infrastructure for Arvo workflows.

Everything users need is imported from here; the subpackages are internal.
"""

from __future__ import annotations

from arvo_concurrent.errors import ArvoConcurrentError, ClosedError

__all__ = ["ArvoConcurrentError", "ClosedError"]
