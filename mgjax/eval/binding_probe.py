"""Does a run's text encoder know which object each word of a two-object caption belongs to?

python -m mgjax binding-probe --config configs/shapes_t2v_tiny.py --workdir runs/shapes_t2v_tiny [--num N]

In "a red circle moving left and a blue square moving up" the backbone can only put each direction on the right
object if the encoder's output at "red" says "left" (or the output at "left" says "red"). A linear probe (ridge
regression on the encoder's output at one word, fitted on 5/6 of the objects, scored on the rest) reads, from an
object's colour word, its own direction and, separately, the other object's; and from its direction word its own
colour and the other's. A bag of words reads both equally well (it knows which directions the caption names, not
whose they are); an encoder that binds reads its own object's better. Captions come from the training split, all
two-object scenes, as the model saw them (FPS prefix included when the config uses one).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import nnx

from mgjax.data.moving_shapes import COLORS, DIRECTIONS, MovingShapes
from mgjax.errors import UserError
from mgjax.eval.shapes_evaluator import parse_caption
from mgjax.models.text.prompts import with_fps_prefix
from mgjax.pipelines.t2v import T2VSampler

_COLORS = tuple(COLORS)


def word_pieces(processor, text: str, offsets: list[int]) -> list[int]:
    """Index of the sentencepiece piece holding the character at each offset of `text`."""
    pieces = processor.encode(text, out_type=str)
    ends = np.cumsum([len(p) for p in pieces])  # sentencepiece writes a space as one "\u2581" before each word
    shift = 1 if pieces and pieces[0].startswith("\u2581") and not text.startswith(" ") else 0  # its dummy prefix
    return [int(np.searchsorted(ends, offset + shift, side="right")) for offset in offsets]


def ridge_accuracy(features: np.ndarray, labels: np.ndarray, num_classes: int, l2: float = 1e-2) -> float:
    """Fit a one-hot ridge regression on the first 5/6 of the rows; accuracy of its argmax on the rest."""
    x = np.concatenate([features, np.ones((len(features), 1))], 1).astype(np.float64)
    split = len(x) * 5 // 6
    targets = np.eye(num_classes)[labels[:split]]
    weights = np.linalg.solve(x[:split].T @ x[:split] + l2 * np.eye(x.shape[1]), x[:split].T @ targets)
    return float(np.mean(np.argmax(x[split:] @ weights, 1) == labels[split:]))


def binding_probe(encode, processor, num_frames: int, num: int = 3000, seed: int = 5, fps: int | None = None
                  ) -> dict[str, float]:
    """encode(prompts) -> hidden states (b, m, d) as the backbone receives them. -> accuracies of the four probes."""
    source = MovingShapes("train", num_frames=num_frames, seed=seed, two_object_prob=1.0, length=num)
    captions = [source.spec(i).caption for i in range(num)]
    prompts = captions if fps is None else [with_fps_prefix(caption, fps) for caption in captions]
    hidden = np.asarray(encode(prompts))
    at_color, at_direction, directions, colors = [], [], [], []
    for n, prompt in enumerate(prompts):
        objects = parse_caption(prompt)
        offsets = [at for obj in objects for at in (obj["color_at"], obj["direction_at"])]
        pieces = word_pieces(processor, prompt, offsets)
        for k, (own, other) in enumerate((objects, objects[::-1])):
            at_color.append(hidden[n, pieces[2 * k]])
            at_direction.append(hidden[n, pieces[2 * k + 1]])
            directions.append((DIRECTIONS.index(own["direction"]), DIRECTIONS.index(other["direction"])))
            colors.append((_COLORS.index(own["color"]), _COLORS.index(other["color"])))
    at_color, at_direction = np.stack(at_color), np.stack(at_direction)
    directions, colors = np.array(directions), np.array(colors)
    return {
        "color_word_own_direction": ridge_accuracy(at_color, directions[:, 0], len(DIRECTIONS)),
        "color_word_other_direction": ridge_accuracy(at_color, directions[:, 1], len(DIRECTIONS)),
        "direction_word_own_color": ridge_accuracy(at_direction, colors[:, 0], len(_COLORS)),
        "direction_word_other_color": ridge_accuracy(at_direction, colors[:, 1], len(_COLORS)),
    }


def run(cfg, workdir, num: int = 3000, encoder_index: int = 0) -> str:
    """Probe a run's text encoder `encoder_index`; -> the printable report."""
    if not 0 <= encoder_index < len(cfg.text.encoders):
        raise UserError(f"--encoder must be in [0, {len(cfg.text.encoders)}), got {encoder_index}")
    if cfg.text.encoders[encoder_index].kind != "t5" or cfg.text.precomputed:
        raise UserError("binding_probe reads a T5-kind encoder that runs inside the model (not text.precomputed)")
    sampler = T2VSampler(cfg, workdir)
    encoder = nnx.merge(sampler.graphdef, *sampler.weights).text_encoders[encoder_index]
    tokenizer = sampler.tokenizers[encoder_index]

    def encode(prompts):
        batch = tokenizer.encode(prompts, cfg.text.encoders[encoder_index].max_length)
        if batch.num_truncated:  # a cut-off word would be read at the EOS or padding position
            raise UserError(f"{batch.num_truncated} probe captions are longer than the encoder's max_length")
        return encoder(jnp.asarray(batch.ids), jnp.asarray(batch.mask))

    d = cfg.data
    result = binding_probe(encode, tokenizer.processor, d.num_frames, num, fps=d.fps if d.fps_prefix else None)
    return (f"checkpoint step {sampler.step}, {num} two-object training captions, linear probe on held-out "
            f"objects\n  at the colour word: own direction {result['color_word_own_direction']:.1%}, other object's "
            f"{result['color_word_other_direction']:.1%} (chance 25%)\n  at the direction word: own colour "
            f"{result['direction_word_own_color']:.1%}, other object's {result['direction_word_other_color']:.1%} "
            f"(chance 17%)")

