"""Prompt handling shared by training and sampling: the "FPS-N" prefix (paper §3.2.1)."""

from __future__ import annotations


def with_fps_prefix(prompt: str, fps: int) -> str:
    """The sampling FPS is written into the prompt as text, e.g. "FPS-16 a red circle moving left"."""
    return f"FPS-{fps} {prompt}"
