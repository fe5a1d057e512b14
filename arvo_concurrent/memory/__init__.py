"""Machine memory: workflow state with leased, fenced locks.

``IMachineMemory`` is the contract; ``ConcurrentMachineMemory`` its in-process implementation.
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
