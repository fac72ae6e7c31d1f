"""Text-to-video (paper §3): the Movie Gen Video backbone with its text encoders, trained by flow matching on latents
of the configured codec, from Moving Shapes, a video folder or precomputed latent records."""

from __future__ import annotations

import pathlib
import shutil

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.checkpoint.restore import load_codec
from mgjax.checkpoint.surgery import parse_run, read_parent, transplant
from mgjax.config.data import AUDIO_SOURCES
from mgjax.config.geometry import codec_geometry, video_tokens
from mgjax.config.schema import Config
from mgjax.config.validate import check_divisibility, validate_clip_geometry, validate_video_model
from mgjax.config.video import VideoModelConfig
from mgjax.data.latent_records import load_null_text
from mgjax.data.t2v_loader import caption_corpus_for, t2v_batches
from mgjax.errors import UserError
from mgjax.models.t2v import TextToVideo, build_model, split_model, trainable_filter
from mgjax.models.tae.model import TemporalAutoencoder
from mgjax.models.text.stack import encode_prompts, load_or_train_tokenizers, load_pretrained_encoders, tokenizer_file
from mgjax.models.video.flops import forward_flops
from mgjax.parallel.report import check_sharded_enough, sharding_report
from mgjax.parallel.rules import VIDEO_RULES, video_rules
from mgjax.parallel.sharding import batch_sharding
from mgjax.train.t2v_step import make_train_step
from mgjax.train.tasks.base import (Task, abstract_opt_state, abstract_step, count, on_mesh, one_device_mesh,
                                    replicated_zero)
from mgjax.train.tasks.registry import register_task


@register_task
class TextToVideoTask(Task):
    name = "t2v"
    model_config = VideoModelConfig
    rules = VIDEO_RULES
    evaluator = "mgjax.eval.shapes_t2v"
    inference_items = ("params", "ema", "rest")
    averaged_items = ("params", "ema")
    export_items = ("ema", "rest")
    config_sections = ("model", "text", "codec", "data", "flow", "sample", "optim", "train", "eval", "mesh")
    # The patchify kernel (pt, ph, pw, in + cond, d) widens along its input channels when conditioning is added.
    widenable = {("backbone", "patch_embed", "kernel"): -2}

    @classmethod
    def validate(cls, cfg: Config) -> None:
        super().validate(cfg)
        m, c = cfg.model, cfg.codec
        cls.check_source(cfg)
        validate_video_model(m)
        validate_clip_geometry(cfg.data, c, m)
        channels = codec_geometry(c).channels
        if m.in_channels != channels:
            raise UserError(f"model.in_channels ({m.in_channels}) must equal the codec's latent channels ({channels})")
        check_mesh_divides(cfg, {a: s for a, s in cfg.mesh.axes().items() if s > 0})  # the axes known so far

    @classmethod
    def check_source(cls, cfg: Config) -> None:
        if cfg.data.source == "natural_clips" or cfg.data.source in AUDIO_SOURCES:
            raise UserError(f"data.source={cfg.data.source} has no captions (it trains codecs); text-to-video trains "
                            "on moving_shapes, latents, video_folder or tfds")

    def __init__(self, cfg: Config, workdir=None, *, abstract: bool = False):
        super().__init__(cfg, workdir, abstract=abstract)
        if abstract:  # no tokenizer, codec or data: batches arrive as cached latents, the empty prompt as constants
            self.tokenizers, self.codec, self.null_tokens = None, None, constant_null_tokens(cfg)
            return
        self.tokenizers = self.load_tokenizers(workdir)
        self.codec = load_codec(cfg.codec)
        self.null_tokens = null_prompt_tokens(cfg, self.tokenizers)

    def load_tokenizers(self, workdir) -> list:
        """A child run (train.init_from) reads its text with its parent's tokenizers (the token ids its weights were
        trained on): they are copied into the workdir first. A run from scratch trains them on `tokenizer_corpus`."""
        cfg, spec = self.cfg, self.cfg.train.init_from
        if spec and workdir is not None:
            parent = parse_run(spec)[0]
            for e in cfg.text.encoders:
                mine, theirs = tokenizer_file(workdir, e), tokenizer_file(parent, e)
                if not mine.exists() and theirs.is_file():
                    pathlib.Path(workdir).mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(theirs, mine)
        return load_or_train_tokenizers(cfg.text.encoders, workdir, corpus=None if spec else self.tokenizer_corpus)

    def tokenizer_corpus(self) -> list[str]:
        return caption_corpus_for(self.cfg)

    def build_model(self) -> TextToVideo:
        return build_model(self.cfg)

    def init_state(self, fresh: bool) -> dict:
        """Optimizer moments and EMA inherit the parameters' shardings. A fresh run loads the text encoders'
        configured checkpoints, then, with train.init_from, every parameter of the parent run (weight surgery)."""
        model = self.build_model()
        if fresh:
            self.load_pretrained(model)
        self.graphdef, params, rest = split_model(self.cfg, model)
        if fresh and self.cfg.train.init_from:
            params, rest = self._from_parent(params, rest)
        return {"params": params, "rest": rest, "opt_state": jax.jit(self.tx.init)(params),
                "ema": jax.tree.map(jnp.copy, params), "step": replicated_zero()}

    def load_pretrained(self, model) -> None:
        """Pretrained weights a fresh run starts from, before any parent run's (`train.init_from`) are transplanted
        over them: the text encoders' configured checkpoints."""
        load_pretrained_encoders(model.text_encoders, self.cfg.text.encoders)

    def _from_parent(self, params, rest):
        spec, mesh = self.cfg.train.init_from, jax.tree.leaves(params)[0].sharding.mesh
        child = {"params": params, "rest": rest}
        weights = (self.cfg.train.init_from_weights, "params")  # the chosen weights, or the raw ones if absent
        parent = read_parent(spec, (weights, "rest"), child, mesh)
        out = transplant(parent, child, self.widenable, f"train.init_from={spec}")
        return out["params"], out["rest"]

    def abstract_state(self, mesh) -> dict:
        with jax.set_mesh(mesh):
            model = nnx.eval_shape(self.build_model)
            self.graphdef, params, rest = nnx.split(model, trainable_filter(self.cfg), ...)
        params, rest = on_mesh(nnx.to_pure_dict(params), mesh), on_mesh(nnx.to_pure_dict(rest), mesh)
        return {"params": params, "rest": rest, "opt_state": abstract_opt_state(self.tx, params, mesh),
                "ema": params, "step": abstract_step(mesh)}

    def check_mesh(self, mesh_shape: dict[str, int]) -> None:
        check_mesh_divides(self.cfg, mesh_shape)

    def check_state(self, state, mesh_shape, verbose) -> None:
        report = sharding_report(state["params"], mesh_shape, self.cfg.mesh.parallelism)
        if verbose:
            print(f"parallelism {self.cfg.mesh.parallelism} on mesh {mesh_shape}: parameters "
                  f"{report['per_device_bytes'] / 2**20:.1f} MiB per device (ideal "
                  f"{report['ideal_per_device_bytes'] / 2**20:.1f} MiB)", flush=True)
        check_sharded_enough(report)

    def make_step(self, phase):
        return make_train_step(self.graphdef, self.cfg, self.codec, self.tx, self.null_tokens)

    def batches(self, start_step, data_state=None):
        self._batches = t2v_batches(self.cfg, self.tokenizers, start_step=start_step, state=data_state)
        return self._batches

    def data_state(self):
        get = getattr(getattr(self, "_batches", None), "get_state", None)
        return get() if get else None

    def abstract_batch(self, mesh, batch_size: int) -> dict:
        """Cached latents and per-encoder token ids + masks (or, with text.precomputed, encoder outputs)."""
        cfg, rules = self.cfg, video_rules(self.cfg.mesh.parallelism)

        def struct(shape, dtype):
            return jax.ShapeDtypeStruct(shape, dtype, sharding=batch_sharding(mesh, len(shape), rules, shape[0]))

        text = []
        for e in cfg.text.encoders:
            first = (struct((batch_size, e.max_length, e.width), jnp.float32) if cfg.text.precomputed
                     else struct((batch_size, e.max_length), jnp.int32))
            text.append((first, struct((batch_size, e.max_length), jnp.bool_)))
        latent = video_tokens(cfg)["latent"]
        return {"latent": struct((batch_size,) + tuple(latent), jnp.float32), "text": text}

    def model_flops(self, batch_size: int) -> float:
        """Forward + backward (2x forward) of the backbone; remat's recomputation and the frozen encoders' forward
        are not counted (the MFU convention)."""
        tokens = video_tokens(self.cfg)
        return 3 * forward_flops(self.cfg.model, self.cfg.text.encoders, tokens["video_tokens"],
                                 tokens["text_tokens"])["total"] * batch_size

    def report(self) -> dict:
        cfg = self.cfg
        params = parameter_counts(cfg, self.abstract_state(one_device_mesh()))
        if cfg.codec.kind in ("tae", "image_vae"):
            params.update(tae_parameter_counts(cfg))
        tokens = video_tokens(cfg)
        flops = forward_flops(cfg.model, cfg.text.encoders, tokens["video_tokens"], tokens["text_tokens"])
        return {"config": cfg.name, "task": self.name, "parameters": params, "tokens": tokens,
                "forward_flops_per_sample": flops,
                "forward_gflops_per_token": flops["total"] / tokens["video_tokens"] / 1e9}

    @staticmethod
    def format_report(r: dict) -> str:
        t, f = r["tokens"], r["forward_flops_per_sample"]
        notes = [f"video: {t['frames']} frames x {t['height']}x{t['width']} -> latent {t['latent']} -> patches "
                 f"{t['patch_grid']} = {t['video_tokens']:,d} tokens (+ {t['text_tokens']} text tokens)",
                 f"forward FLOPs per sample: {f['total']:.4g} (dense {f['dense']:.4g}, attention "
                 f"{f['attention']:.4g}); {r['forward_gflops_per_token']:.1f} GFLOP per video token"]
        return Task.format_report(dict(r, notes=notes))


def check_mesh_divides(cfg: Config, mesh_shape: dict[str, int]) -> None:
    """Heads and the FFN split over `tensor`, the clip's tokens over `context` (and `tensor` under SP)."""
    m = cfg.model
    check_divisibility(num_heads=m.num_heads, ffn_width=m.ffn_width, tokens=video_tokens(cfg)["video_tokens"],
                       mesh_shape=mesh_shape, preset=cfg.mesh.parallelism)


def parameter_counts(cfg: Config, state: dict) -> dict[str, int]:
    """Backbone parts and each in-model text encoder, from the abstract parameters (trainable and frozen)."""
    trees = [state["params"], state["rest"]]
    bb = trees[0]["backbone"]
    blocks = bb["blocks"]
    per = blocks if cfg.model.scan_layers else {k: [b[k] for b in blocks.values()] for k in next(iter(blocks.values()))}
    counts = {
        "backbone/self_attention": count(per["self_attn"]),
        "backbone/cross_attention": count(per["cross_attn"]) + count(per.get("context_gate", [])),
        "backbone/ffn": count(per["mlp"]),
        "backbone/adaln": count(per["modulation"]) + count(bb["shared_mod"]) + count(bb["final_modulation"]),
        "backbone/norms": count({k: v for k, v in per.items() if k.endswith("norm")}),
        "backbone/embeddings": count(bb["patch_embed"]) + count(bb["pos_embed"]) + count(bb["t_embed"]),
        "backbone/text_projections": count(bb["text_proj"]),
        "backbone/conditioning": (count(bb.get("context_proj", {})) + count(bb.get("time_cond", {}))
                                  + count(bb.get("cond_skip", {}))),
        "backbone/head": count(bb["head"]),
    }
    counts["backbone"] = count(bb)
    assert counts["backbone"] == sum(v for k, v in counts.items() if k.startswith("backbone/"))
    for i, enc in enumerate(cfg.text.encoders):
        found = [t["text_encoders"][k] for t in trees for k in (i, str(i)) if k in t.get("text_encoders", {})]
        counts[f"text/{enc.name}"] = count(found)
    return counts


def tae_parameter_counts(cfg: Config) -> dict[str, int]:
    """The codec's encoder and decoder (a TAE, or the upsampler's frame-wise image VAE), named by its kind."""
    with jax.set_mesh(one_device_mesh()):
        model = nnx.eval_shape(lambda: TemporalAutoencoder(cfg.codec.tae, rngs=nnx.Rngs(0)))
    params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    kind = cfg.codec.kind
    return {f"{kind}/encoder": count(params["encoder"]), f"{kind}/decoder": count(params["decoder"]),
            kind: count(params)}


def null_prompt_tokens(cfg: Config, tokenizers) -> list[tuple[jax.Array, jax.Array]]:
    """The empty prompt per encoder, (1, m): the unconditional input of classifier-free guidance (with
    text.precomputed: the encoders' outputs for it, (1, m, d), stored beside the latent records)."""
    if cfg.text.precomputed:
        return [(jnp.asarray(h), jnp.asarray(m)) for h, m in load_null_text(cfg.data.latents_path)]
    return [(jnp.asarray(t.ids), jnp.asarray(t.mask)) for t in encode_prompts([""], cfg.text.encoders, tokenizers)]


def constant_null_tokens(cfg: Config) -> list[tuple[jax.Array, jax.Array]]:
    """The empty prompt as constants for abstract compilation (an EOS-only prompt; its exact ids do not change the
    program)."""
    out = []
    for e in cfg.text.encoders:
        mask = jnp.zeros((1, e.max_length), bool).at[0, 0].set(True)
        first = (jnp.zeros((1, e.max_length, e.width), jnp.float32) if cfg.text.precomputed
                 else jnp.ones((1, e.max_length), jnp.int32))
        out.append((first, mask))
    return out

