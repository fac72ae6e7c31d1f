"""The spatial upsampler (paper §3.1.7): the video backbone with the encoded low-resolution video on extra
zero-initialised input channels, initialised from a text-to-image run (`train.init_from`) and trained by flow matching
on (high-resolution clip, degraded low-resolution input) pairs in a frame-wise image VAE's latents."""

from __future__ import annotations

import jax

from mgjax.checkpoint.restore import load_codec
from mgjax.config.geometry import codec_geometry, video_tokens
from mgjax.config.schema import Config
from mgjax.config.upsample import UpsamplerModelConfig
from mgjax.data.upsample_pairs import upsample_batches
from mgjax.errors import UserError
from mgjax.models.upsampler import build_upsampler
from mgjax.train.tasks.registry import register_task
from mgjax.train.tasks.t2v import TextToVideoTask
from mgjax.train.upsample_step import make_upsample_step


@register_task
class UpsampleTask(TextToVideoTask):
    name = "upsample"
    model_config = UpsamplerModelConfig
    evaluator = "mgjax.eval.upsample"

    @classmethod
    def check_source(cls, cfg: Config) -> None:
        if cfg.data.source not in ("natural_clips", "video_folder", "tfds"):
            raise UserError(f"the upsample task degrades clips of natural content: data.source must be natural_clips, "
                            f"video_folder or tfds (got {cfg.data.source})")

    @classmethod
    def validate(cls, cfg: Config) -> None:
        super().validate(cfg)
        m, d, u, s = cfg.model, cfg.data, cfg.data.upsample, cfg.sample
        if m.cond_channels != m.in_channels or m.context_widths or m.time_cond_width:
            raise UserError("model.cond_channels must be in_channels and no other conditioning set: build the model "
                            "with mgjax.config.upsample.upsampler_model(...)")
        if codec_geometry(cfg.codec).factors[0] != 1:
            raise UserError(f"the upsampler needs a frame-wise codec (codec.kind=image_vae, or space_to_depth with "
                            f"factors (1, f, f)); codec.factors={tuple(cfg.codec.factors)} mixes frames")
        if m.scale < 1 or d.height % m.scale or d.width % m.scale:
            raise UserError(f"data.height and data.width ({d.height}x{d.width}) must be divisible by model.scale "
                            f"({m.scale} >= 1)")
        if s.window_frames > m.max_patches[0] * m.patch_size[0]:
            raise UserError(f"sample.window_frames ({s.window_frames}) exceeds the temporal positions the model has "
                            f"(model.max_patches[0] x patch_size[0] = {m.max_patches[0] * m.patch_size[0]})")
        if not 0.0 <= u.tae_prob <= 1.0:
            raise UserError(f"data.upsample.tae_prob must be in [0, 1], got {u.tae_prob}")
        if u.tae_prob > 0 and u.tae.kind != "tae":
            raise UserError(f"data.upsample.tae must be a TAE (kind tae), got kind {u.tae.kind}")

    def __init__(self, cfg: Config, workdir=None, *, abstract: bool = False):
        super().__init__(cfg, workdir, abstract=abstract)
        u = cfg.data.upsample
        self.tae = None
        if not abstract and u.tae_prob > 0:
            if not u.tae.checkpoint:
                raise UserError("data.upsample.tae_prob > 0 needs data.upsample.tae.checkpoint: a trained TAE's run or "
                                "export (e.g. assets/tae_natural), whose round trips add TAE artifacts; or set "
                                "data.upsample.tae_prob=0")
            self.tae = load_codec(u.tae)

    def build_model(self):
        return build_upsampler(self.cfg)

    def make_step(self, phase):
        return make_upsample_step(self.graphdef, self.cfg, self.codec, self.tae, self.tx, self.null_tokens)

    def batches(self, start_step, data_state=None):
        self._batches = upsample_batches(self.cfg, self.tokenizers, start_step=start_step, state=data_state)
        return self._batches

    def abstract_batch(self, mesh, batch_size: int) -> dict:
        """The text-to-video batch (target latents, tokens) plus the low-resolution videos' latents."""
        batch = super().abstract_batch(mesh, batch_size)
        latent = batch["latent"]
        return {**batch, "low_latent": jax.ShapeDtypeStruct(latent.shape, latent.dtype, sharding=latent.sharding)}

    def report(self) -> dict:
        r = super().report()
        cfg, m = self.cfg, self.cfg.model
        out = video_tokens(cfg)
        r["upsample"] = {"scale": m.scale, "patchify_in_channels": m.in_channels + m.cond_channels,
                         "input": (out["height"] // m.scale, out["width"] // m.scale),
                         "window": (cfg.sample.window_frames, cfg.sample.window_overlap),
                         "window_tokens": video_tokens(cfg, frames=cfg.sample.window_frames)["video_tokens"]}
        return r

    @staticmethod
    def format_report(r: dict) -> str:
        u = r["upsample"]
        line = (f"upsample: {u['scale']}x from {u['input'][0]}x{u['input'][1]}; patchify input "
                f"{u['patchify_in_channels']} channels (noisy latent + low-resolution latent); MultiDiffusion windows "
                f"of {u['window'][0]} frames overlapping by {u['window'][1]} ({u['window_tokens']:,d} tokens each)")
        return TextToVideoTask.format_report(r) + "\n" + line

