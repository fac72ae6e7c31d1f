"""Attention kernels behind one `attend()` function."""

from mgjax.attention.api import attend

__all__ = ["attend"]
