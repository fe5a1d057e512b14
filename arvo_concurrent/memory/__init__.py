"""Machine memory: workflow state with leased, fenced locks.

``IMachineMemory`` is the contract; ``ConcurrentMachineMemory`` its in-process implementation.
Internal: import the public names from :mod:`arvo_concurrent`, which re-exports them
from here. The files of this package may change without notice.
"""

from __future__ import annotations

from arvo_concurrent.memory.errors import (
    FencingError,
    MachineIdError,
    MemoryConfigError,
    MemoryDataError,
    MemoryTimeoutError,
)
from arvo_concurrent.memory.interface import IMachineMemory
from arvo_concurrent.memory.machine_memory import ConcurrentMachineMemory

__all__ = [
    "ConcurrentMachineMemory",
    "FencingError",
    "IMachineMemory",
    "MachineIdError",
    "MemoryConfigError",
    "MemoryDataError",
    "MemoryTimeoutError",
]
