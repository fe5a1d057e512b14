"""Pykka building blocks: the timer scheduler, handler worker pools and the router."""
