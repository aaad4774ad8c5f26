"""Numbers of the core's command protocol, shared by the gateware and the host side.

``docs/protocol.md`` describes the words; :mod:`hdl.core` decodes and answers them and
:mod:`sim.protocol` encodes and decodes them on the host, both from the definitions here.
"""

from __future__ import annotations

import enum

__all__ = ["DESIGN_VERSION", "Opcode", "Status", "opcode_shift", "status_shift"]

#: Version word returned by ``IDENTIFY``; bump it when the protocol or the schedule changes
#: (0x0101: ``LOAD_WEIGHTS`` carries the class bias after the weights).
DESIGN_VERSION = 0x0101


class Opcode(enum.IntEnum):
    """Command opcodes, the top 4 bits of a command word."""

    LOAD_WEIGHTS = 0x1
    LOAD_GRAPH = 0x2
    LOAD_FEATURES = 0x3
    RUN = 0x4
    IDENTIFY = 0x5


class Status(enum.IntEnum):
    """Status codes, the 4 bits below the opcode in a status word."""

    OK = 0
    UNKNOWN_OPCODE = 1
    BAD_ARGUMENT = 2
    BAD_NEIGHBOUR = 3
    BAD_VALUE = 4
    NOT_READY = 5


def opcode_shift(word_width: int) -> int:
    """Bit position of the opcode in a command or status word (the argument's width)."""
    return word_width - 4


def status_shift(word_width: int) -> int:
    """Bit position of the status code in a status word."""
    return word_width - 8
