"""Does a run's text encoder know which object each word of a two-object caption belongs to?

python -m mgjax.tools.binding_probe --config configs/shapes_t2v_tiny.py --workdir runs/shapes_t2v_tiny [--num N]

In "a red circle moving left and a blue square moving up" the backbone can only put each direction on the right
object if the encoder's output at "red" says "left" (or the output at "left" says "red"). A linear probe (ridge
regression on the encoder's output at one word, fitted on 5/6 of the objects, scored on the rest) reads, from an
object's colour word, its own direction and, separately, the other object's; and from its direction word its own
colour and the other's. A bag of words reads both equally well (it knows which directions the caption names, not
whose they are); an encoder that binds reads its own object's better. Captions come from the training split, all
two-object scenes, as the model saw them (FPS prefix included when the config uses one).
"""

from __future__ import annotations

import re
import sys

import jax.numpy as jnp
import numpy as np
from flax import nnx

from mgjax.cli import run_main, run_parser, set_global_flags
from mgjax.config import load_config
from mgjax.data.moving_shapes import COLORS, DIRECTION_WORDS, DIRECTIONS, MovingShapes
from mgjax.errors import UserError
from mgjax.models.text.prompts import with_fps_prefix

_COLORS = tuple(COLORS)


def word_pieces(processor, text: str, words: list[str]) -> list[int]:
    """Index of the sentencepiece piece holding the first character of each word, taken in order through `text`."""
    pieces = processor.encode(text, out_type=str)
    ends = np.cumsum([len(p) for p in pieces])  # sentencepiece writes a space as one "\u2581" before each word
    joined = "".join(pieces).replace("\u2581", " ")
    offset = 1 if joined.startswith(" ") and not text.startswith(" ") else 0
    out, cursor = [], 0
    for word in words:
        start = re.compile(rf"\b{word}\b").search(text, cursor).start()
        out.append(int(np.searchsorted(ends, start + offset, side="right")))
        cursor = start + len(word)
    return out


def _direction_word(caption_part: str, direction: str) -> str:
    """The phrasing of `direction` used in one object's part of a caption ("to the left" -> "left")."""
    found = [w.split()[-1] for w in DIRECTION_WORDS[direction] if w.split()[-1] in caption_part.split()]
    return max(found, key=len)  # "upward" contains "up": the longest whole word present


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
    specs = [source.spec(i) for i in range(num)]
    prompts = [spec.caption if fps is None else with_fps_prefix(spec.caption, fps) for spec in specs]
    hidden = np.asarray(encode(prompts))
    at_color, at_direction, directions, colors = [], [], [], []
    for n, (spec, prompt) in enumerate(zip(specs, prompts)):
        first, second = spec.objects
        split = prompt.index(" and ", prompt.index(first.color))  # the second object's words follow it
        words = [first.color, _direction_word(prompt[:split], first.direction), second.color,
                 _direction_word(prompt[split:], second.direction)]
        pieces = word_pieces(processor, prompt, words)
        for own, other, color_piece, direction_piece in ((first, second, pieces[0], pieces[1]),
                                                         (second, first, pieces[2], pieces[3])):
            at_color.append(hidden[n, color_piece])
            at_direction.append(hidden[n, direction_piece])
            directions.append((DIRECTIONS.index(own.direction), DIRECTIONS.index(other.direction)))
            colors.append((_COLORS.index(own.color), _COLORS.index(other.color)))
    at_color, at_direction = np.stack(at_color), np.stack(at_direction)
    directions, colors = np.array(directions), np.array(colors)
    return {
        "color_word_own_direction": ridge_accuracy(at_color, directions[:, 0], len(DIRECTIONS)),
        "color_word_other_direction": ridge_accuracy(at_color, directions[:, 1], len(DIRECTIONS)),
        "direction_word_own_color": ridge_accuracy(at_direction, colors[:, 0], len(_COLORS)),
        "direction_word_other_color": ridge_accuracy(at_direction, colors[:, 1], len(_COLORS)),
    }


def main(argv=None) -> int:
    parser = run_parser(__doc__)
    parser.add_argument("--num", type=int, default=3000, help="two-object training captions to probe")
    parser.add_argument("--encoder", type=int, default=0, help="which text encoder (index into text.encoders)")
    args = parser.parse_args(argv)
    set_global_flags()
    from mgjax.pipelines.t2v import T2VSampler

    cfg = load_config(args.config, args.set)
    if cfg.text.encoders[args.encoder].kind != "t5" or cfg.text.precomputed:
        raise UserError("binding_probe reads a T5-kind encoder that runs inside the model (not text.precomputed)")
    sampler = T2VSampler(cfg, args.workdir)
    encoder = nnx.merge(sampler.graphdef, *sampler.weights).text_encoders[args.encoder]
    tokenizer = sampler.tokenizers[args.encoder]

    def encode(prompts):
        batch = tokenizer.encode(prompts, cfg.text.encoders[args.encoder].max_length)
        return encoder(jnp.asarray(batch.ids), jnp.asarray(batch.mask))

    d = cfg.data
    result = binding_probe(encode, tokenizer.processor, d.num_frames, args.num, fps=d.fps if d.fps_prefix else None)
    print(f"checkpoint step {sampler.step}, {args.num} two-object training captions, linear probe on held-out objects")
    print(f"  at the colour word: own direction {result['color_word_own_direction']:.1%}, "
          f"other object's {result['color_word_other_direction']:.1%} (chance 25%)")
    print(f"  at the direction word: own colour {result['direction_word_own_color']:.1%}, "
          f"other object's {result['direction_word_other_color']:.1%} (chance 17%)")
    return 0


if __name__ == "__main__":
    run_main(main, sys.argv[1:])
