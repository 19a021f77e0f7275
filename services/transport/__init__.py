"""Transport subsidy: a monthly transit credit, fares deducted by a tap at a gate."""

from services.transport.module import module

__all__ = ["module"]
