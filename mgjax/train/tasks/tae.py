"""The temporal autoencoder (paper §3.1.1): a VAE on video and images with the outlier penalty and, from a configured
step, a PatchGAN discriminator (train/tae_step.py); the model is `cfg.model` (TAEConfig), the losses `cfg.loss`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.config.data import AUDIO_SOURCES
from mgjax.config.geometry import tae_compression, tae_latent_frames
from mgjax.config.schema import Config
from mgjax.config.tae import TAEConfig, TAELossConfig
from mgjax.config.validate import validate_tae
from mgjax.data.t2v_loader import video_batches
from mgjax.errors import UserError
from mgjax.models.tae.discriminator import PatchDiscriminator
from mgjax.models.tae.model import TemporalAutoencoder
from mgjax.models.tae.perceptual import load_lpips
from mgjax.parallel.rules import TAE_RULES, use_rules
from mgjax.parallel.sharding import batch_sharding
from mgjax.train.tae_step import make_tae_train_step, tae_phase
from mgjax.train.tasks.base import AdversarialTask, Task, count, one_device_mesh
from mgjax.train.tasks.registry import register_task


@register_task
class TAETask(AdversarialTask):
    name = "tae"
    model_config = TAEConfig
    loss_config = TAELossConfig
    rules = TAE_RULES
    evaluator = "mgjax.eval.tae_recon"

    @classmethod
    def validate(cls, cfg: Config) -> None:
        super().validate(cfg)
        validate_tae(cfg.model, "model")
        _, fs, _ = tae_compression(cfg.model)
        d = cfg.data
        if d.source == "latents" or d.source in AUDIO_SOURCES:
            raise UserError(f"data.source={d.source} holds no pixels; the TAE trains on moving_shapes, natural_clips, "
                            "video_folder or tfds")
        if d.source in ("moving_shapes", "natural_clips") and (d.height % fs or d.width % fs):
            raise UserError(f"data.height and data.width ({d.height}x{d.width}) must be divisible by the TAE's "
                            f"spatial compression ({fs})")
        if cfg.loss.train_crop % fs:
            raise UserError(f"loss.train_crop ({cfg.loss.train_crop}) must be a multiple of the spatial compression "
                            f"({fs})")

    def __init__(self, cfg: Config, workdir=None, *, abstract: bool = False):
        super().__init__(cfg, workdir, abstract=abstract)
        loss = cfg.loss
        self.perceptual = load_lpips(loss.perceptual_weights) if loss.perceptual_weight > 0 and not abstract else None

    def build_model(self) -> TemporalAutoencoder:
        return TemporalAutoencoder(self.cfg.model, rngs=nnx.Rngs(self.cfg.train.seed))

    def build_discriminator(self) -> PatchDiscriminator:
        with use_rules(TAE_RULES):
            return PatchDiscriminator(self.cfg.loss.disc_channels, self.cfg.loss.disc_layers,
                                      rngs=nnx.Rngs(self.cfg.train.seed + 1))

    def phase(self, step):
        return tae_phase(self.cfg, step)

    def make_step(self, phase):
        return make_tae_train_step(self.graphdef, self.disc_graphdef, self.cfg, self.tx, self.disc_tx, phase,
                                   self.perceptual)

    def batches(self, start_step, data_state=None):
        return video_batches(self.cfg, start_step=start_step)

    def abstract_batch(self, mesh, batch_size: int) -> dict:
        d = self.cfg.data
        shape = (batch_size, d.num_frames, d.height, d.width, 3)
        return {"video": jax.ShapeDtypeStruct(shape, jnp.uint8, sharding=batch_sharding(mesh, 5, TAE_RULES,
                                                                                          batch_size))}

    def report(self) -> dict:
        with jax.set_mesh(one_device_mesh()):
            model = nnx.eval_shape(self.build_model)
        params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
        tae, d = self.cfg.model, self.cfg.data
        _, fs, _ = tae_compression(tae)
        latent = (tae_latent_frames(tae, d.num_frames), d.height // fs, d.width // fs, tae.latent_channels)
        return {"config": self.cfg.name, "task": self.name,
                "parameters": {"tae/encoder": count(params["encoder"]), "tae/decoder": count(params["decoder"]),
                               "tae": count(params)},
                "tae": {"compression": tae_compression(tae), "frames": d.num_frames, "height": d.height,
                        "width": d.width, "latent": latent}}

    @staticmethod
    def format_report(r: dict) -> str:
        t = r["tae"]
        return Task.format_report(dict(r, notes=[f"TAE: compression {t['compression']}; {t['frames']} frames x "
                                                 f"{t['height']}x{t['width']} -> latent {t['latent']}"]))
