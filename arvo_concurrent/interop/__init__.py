"""Interoperability with other CloudEvents tooling (the ``cloudevents`` extra).

``from arvo_concurrent.interop import to_cloudevent, from_cloudevent, to_http_binary,
to_http_structured, from_http``: conversions between :class:`~arvo_concurrent.ArvoEvent`
and the CloudEvents Python SDK's v1.0 ``CloudEvent`` (``cloudevents.core``, SDK 2.x),
and its HTTP binding in structured and binary content modes. They need
``pip install 'arvo-concurrent[cloudevents]'``; importing this package does not import
the SDK, calling a function does (:class:`~arvo_concurrent.errors.MissingExtraError`
when it is missing).
"""

from __future__ import annotations

from arvo_concurrent.interop.cloud_events import (
    from_cloudevent,
    from_http,
    to_cloudevent,
    to_http_binary,
    to_http_structured,
)

__all__ = ["from_cloudevent", "from_http", "to_cloudevent", "to_http_binary", "to_http_structured"]
