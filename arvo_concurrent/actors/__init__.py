"""Pykka building blocks: the timer scheduler, handler worker pools and the router.

Internal: nothing here is public API (the test clock is :mod:`arvo_concurrent.testing`).
"""
