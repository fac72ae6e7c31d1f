"""The DAC-VAE (paper §6): Movie Gen Audio's codec, trained on audio clips with DAC's losses (train/dac_vae_step.py);
the model is `cfg.model` (DACVAEConfig), the losses `cfg.loss` (DACVAELossConfig), the clips `data.audio`."""

from __future__ import annotations

import grain
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mgjax.config.audio import DACVAEConfig, DACVAELossConfig
from mgjax.config.data import AUDIO_SOURCES
from mgjax.config.geometry import audio_hop
from mgjax.config.schema import Config
from mgjax.data.audio_files import AudioFolderBatches
from mgjax.data.procedural_audio import ProceduralAudio
from mgjax.errors import UserError
from mgjax.models.audio.dac_vae import DACVAE
from mgjax.models.audio.discriminators import DACDiscriminator
from mgjax.parallel.rules import DAC_VAE_RULES, use_rules
from mgjax.parallel.sharding import batch_sharding
from mgjax.train.dac_vae_step import dac_vae_phase, make_dac_vae_train_step
from mgjax.train.tasks.base import AdversarialTask, Task, count, one_device_mesh
from mgjax.train.tasks.registry import register_task


def clip_samples(cfg: Config) -> int:
    return round(cfg.data.audio.seconds * cfg.model.sample_rate)


class _StepBatch:
    """Step s's batch: clips s*b .. s*b + b - 1 of the source (a pure function of the step, so resuming is exact)."""

    def __init__(self, source: ProceduralAudio, batch_size: int):
        self.source, self.batch_size = source, batch_size

    def __call__(self, step: int) -> dict:
        start = (step * self.batch_size) % (len(self.source) - self.batch_size)
        return {"audio": np.stack([self.source[start + i]["audio"] for i in range(self.batch_size)])}


@register_task
class DACVAETask(AdversarialTask):
    name = "dac_vae"
    evaluator = "mgjax.eval.audio_recon"
    model_config = DACVAEConfig
    loss_config = DACVAELossConfig
    rules = DAC_VAE_RULES
    config_sections = ("model", "loss", "data", "optim", "train", "mesh")

    @classmethod
    def validate(cls, cfg: Config) -> None:
        super().validate(cfg)
        m = cfg.model
        if cfg.data.source not in AUDIO_SOURCES:
            raise UserError(f"the DAC-VAE trains on audio: set data.source to procedural_audio or audio_folder (got "
                            f"{cfg.data.source})")
        if any(s < 1 for s in m.strides) or m.decoder_dim % 2 ** len(m.strides):
            raise UserError(f"model.decoder_dim ({m.decoder_dim}) must be divisible by 2^{len(m.strides)} and every "
                            f"stride >= 1")
        hop = audio_hop(m.strides)
        if clip_samples(cfg) % hop or clip_samples(cfg) < hop:
            raise UserError(f"data.audio.seconds ({cfg.data.audio.seconds}) gives {clip_samples(cfg)} samples at "
                            f"{m.sample_rate} Hz: make it a positive multiple of the hop ({hop} samples, "
                            f"{hop / m.sample_rate:g} s)")

    def build_model(self) -> DACVAE:
        with use_rules(DAC_VAE_RULES):
            return DACVAE(self.cfg.model, rngs=nnx.Rngs(self.cfg.train.seed))

    def build_discriminator(self) -> DACDiscriminator:
        with use_rules(DAC_VAE_RULES):
            loss = self.cfg.loss
            return DACDiscriminator(loss.periods, loss.fft_sizes, loss.period_widths, loss.stft_channels,
                                    rngs=nnx.Rngs(self.cfg.train.seed + 1))

    def phase(self, step):
        return dac_vae_phase(self.cfg, step)

    def make_step(self, phase):
        return make_dac_vae_train_step(self.graphdef, self.disc_graphdef, self.cfg, self.tx, self.disc_tx, phase)

    def batches(self, start_step, data_state=None):
        d = self.cfg.data
        if d.source == "audio_folder":
            self._batches = AudioFolderBatches(d, self.cfg.model.sample_rate, clip_samples(self.cfg), start_step,
                                               self.cfg.train.steps, data_state)
            return self._batches
        source = ProceduralAudio("train", sample_rate=self.cfg.model.sample_rate, num_samples=clip_samples(self.cfg),
                                 seed=d.seed)
        ds = grain.MapDataset.range(start_step, self.cfg.train.steps).map(_StepBatch(source, d.batch_size))
        ds = ds.to_iter_dataset()
        if d.num_workers > 0:
            ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=d.num_workers))
        return iter(ds)

    def data_state(self):
        batches = getattr(self, "_batches", None)
        return batches.get_state() if batches is not None else None

    def abstract_batch(self, mesh, batch_size: int) -> dict:
        shape = (batch_size, clip_samples(self.cfg), 1)
        return {"audio": jax.ShapeDtypeStruct(shape, jnp.float32,
                                              sharding=batch_sharding(mesh, 3, DAC_VAE_RULES, batch_size))}

    def report(self) -> dict:
        with jax.set_mesh(one_device_mesh()):
            model = nnx.eval_shape(self.build_model)
            disc = nnx.eval_shape(self.build_discriminator)
        params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
        m = self.cfg.model
        hop = audio_hop(m.strides)
        return {"config": self.cfg.name, "task": self.name,
                "parameters": {"dac_vae/encoder": count(params["encoder"]), "dac_vae/decoder": count(params["decoder"]),
                               "dac_vae": count(params),
                               "discriminators": count(nnx.to_pure_dict(nnx.state(disc, nnx.Param)))},
                "audio": {"sample_rate": m.sample_rate, "hop": hop, "frame_rate": m.sample_rate / hop,
                          "latent_channels": m.latent_channels}}

    @staticmethod
    def format_report(r: dict) -> str:
        a = r["audio"]
        return Task.format_report(dict(r, notes=[f"DAC-VAE: {a['sample_rate']} Hz mono, hop {a['hop']} -> "
                                                 f"{a['frame_rate']:g} latent frames/s x {a['latent_channels']} "
                                                 f"channels"]))
