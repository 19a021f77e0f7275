"""Elderly allowance: a monthly cash allowance for citizens aged 60+ in low deciles."""

from services.elderly.module import module

__all__ = ["module"]
