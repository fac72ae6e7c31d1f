"""A codec's reconstructions beside a trivial baseline on the same frames: each frame downsampled by the codec's spatial
factor and upsampled back, both bicubic (PIL; its downsampling is antialiased). A codec that keeps more than the
baseline's few values per block should beat it; the TAE evaluator prints the two side by side."""

from __future__ import annotations

import numpy as np
from PIL import Image

from mgjax.eval.metrics import psnr, ssim


def bicubic_roundtrip(videos: np.ndarray, factor: int) -> np.ndarray:
    """uint8 (... h w 3) -> each frame down `factor`x and back up, bicubic: uint8, the same shape."""
    h, w = videos.shape[-3:-1]
    small = (max(1, w // factor), max(1, h // factor))
    frames = [np.asarray(Image.fromarray(f).resize(small, Image.Resampling.BICUBIC).resize((w, h),
                                                                                           Image.Resampling.BICUBIC))
              for f in videos.reshape(-1, h, w, 3)]
    return np.stack(frames).reshape(videos.shape)


def clip_scores(clips: np.ndarray, recon: np.ndarray) -> tuple[np.ndarray, float]:
    """(per-clip PSNR, the mean of each clip's frames' PSNR, (n,); mean SSIM over all frames) for (n t h w 3)."""
    return psnr(clips, recon).reshape(len(clips), -1).mean(1), float(ssim(clips, recon).mean())


def scores(clips: np.ndarray, recon: np.ndarray) -> dict:
    clip_psnr, mean_ssim = clip_scores(clips, recon)
    return {"psnr": float(clip_psnr.mean()), "ssim": mean_ssim}


def list_scores(clips: list[np.ndarray], recons: list[np.ndarray]) -> dict:
    """`scores` over clips of different shapes (a video folder's buckets): means of per-clip PSNR and SSIM."""
    return {"psnr": float(np.mean([psnr(c, r).mean() for c, r in zip(clips, recons)])),
            "ssim": float(np.mean([ssim(c, r).mean() for c, r in zip(clips, recons)]))}


def table(rows: list[tuple[str, dict, dict]], factor: int) -> str:
    """(label, codec scores, baseline scores) per row -> aligned lines: PSNR dB / SSIM, and the codec's lead in dB."""
    width = max(len(label) for label, _, _ in rows)
    head = f"{'held-out':<{width}}  {'TAE PSNR / SSIM':>17}  {f'bicubic-{factor}x PSNR / SSIM':>24}  {'lead':>8}"
    lines = [head]
    for label, codec, base in rows:
        lines.append(f"{label:<{width}}  {codec['psnr']:8.2f} / {codec['ssim']:.3f}  {base['psnr']:15.2f} / "
                     f"{base['ssim']:.3f}  {codec['psnr'] - base['psnr']:+6.2f} dB")
    return "\n".join(lines)
