"""Bounded zlib inflation, for compressed text that arrives from outside.

A few hundred kilobytes of zlib can inflate to hundreds of megabytes, so input that
anyone can send (an orchestration subject rides on every event) is inflated with a
cap on its output: the work and memory spent stay proportional to the cap, not to
what the sender hoped for. Pure and thread-safe.
"""

from __future__ import annotations

import zlib

from arvo_concurrent.errors import ArvoConcurrentError

__all__ = ["InflateError", "inflate"]


class InflateError(ArvoConcurrentError, ValueError):
    """Compressed input that is corrupt, truncated, or inflates past the cap.

    Attributes:
        max_size: the cap on the inflated size, in bytes.
    """

    def __init__(self, message: str, max_size: int) -> None:
        super().__init__(message)
        self.max_size = max_size


def inflate(data: bytes, max_size: int) -> bytes:
    """The zlib stream ``data`` inflated, at most ``max_size`` bytes.

    Bytes after the end of the stream are ignored, as ``zlib.decompress`` does.

    Raises:
        InflateError: ``data`` is not a complete zlib stream, or inflates to more than
            ``max_size`` bytes (inflation stops one byte past the cap).
    """
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(data, max_size + 1)
    except zlib.error as exc:
        raise InflateError(f"corrupt zlib data: {exc}", max_size) from None
    if len(inflated) > max_size:
        raise InflateError(f"inflates to more than {max_size} bytes", max_size)
    if not inflater.eof:
        raise InflateError("incomplete or truncated zlib stream", max_size)
    return inflated
