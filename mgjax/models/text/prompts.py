"""Prompt handling shared by training and sampling (paper §3.1.4, §3.2.1): the "FPS-N" prefix, the camera-motion
prefix, and the quoted spans that ByT5 reads (the text to render in the frame)."""

from __future__ import annotations

import re

from mgjax.errors import UserError

# The paper's camera-motion classifier has 16 classes but does not list them, nor the prefix's wording; these are the
# standard cinematography moves (a choice, documented here).
CAMERA_MOTIONS = ("static", "pan left", "pan right", "tilt up", "tilt down", "zoom in", "zoom out", "dolly in",
                  "dolly out", "truck left", "truck right", "pedestal up", "pedestal down", "arc left", "arc right",
                  "handheld")
# Straight or curly double quotes; an unmatched quote opens no span.
QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”')
QUOTED_SEPARATOR = " "


def with_fps_prefix(prompt: str, fps: int) -> str:
    """The sampling FPS is written into the prompt as text, e.g. "FPS-16 a red circle moving left"."""
    return f"FPS-{fps} {prompt}"


def with_camera_prefix(prompt: str, motion: str) -> str:
    """"Camera pan left. <prompt>"; `motion` is one of CAMERA_MOTIONS."""
    if motion not in CAMERA_MOTIONS:
        raise UserError(f"unknown camera motion {motion!r}; valid: {', '.join(CAMERA_MOTIONS)}")
    return f"Camera {motion}. {prompt}"


def build_prompt(caption: str, *, fps: int | None = None, camera_motion: str | None = None) -> str:
    """The text the encoders see: [FPS-N] [Camera <motion>.] caption."""
    if camera_motion:
        caption = with_camera_prefix(caption, camera_motion)
    return caption if fps is None else with_fps_prefix(caption, fps)


def quoted_spans(prompt: str) -> list[str]:
    """'Clouds form the word "Meta"' -> ["Meta"]."""
    return [a or b for a, b in QUOTED.findall(prompt)]


def quoted_text(prompt: str) -> str:
    """All quoted spans joined by a space; empty when the prompt quotes nothing (ByT5 then sees only its EOS)."""
    return QUOTED_SEPARATOR.join(quoted_spans(prompt))
