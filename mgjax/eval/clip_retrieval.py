"""Zero-shot retrieval of a trained CLIP on Moving Shapes stills it never trained on.

Each still is described canonically ("a large red circle and a small blue square on a striped background": every
attribute, one phrasing; the training captions phrase a random subset of them). Two measures, each against chance:

- caption: the still's description is retrieved among the distinct descriptions of all evaluated stills (top-1);
- object: a one-object still's colour and shape among all 18 "a {colour} {shape}" prompts (zero-shot
  classification, CLIP's ImageNet protocol in small).

On two sets: `heldout`, stills whose every object is a colour-shape pair no training image shows (red circle, cyan
square, magenta triangle: the text and the pixels of the pair were never seen together), and `train_pairs`, new
stills of the training pairs (another seed).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np

from mgjax.checkpoint.restore import load_clip
from mgjax.config.schema import Config
from mgjax.data.moving_shapes import COLORS, SHAPES, SampleSpec
from mgjax.data.t2v_loader import shapes_source
from mgjax.models.clip import CLIPScorer

OBJECT_PROMPTS = tuple(f"a {color} {shape}" for color in COLORS for shape in SHAPES)
UNSEEN_SEED_OFFSET = 7919  # new stills of the training pairs: a seed no training batch draws from


def canonical_caption(spec: SampleSpec) -> str:
    objects = " and ".join(f"a {o.size} {o.color} {o.shape}" for o in spec.objects)
    return f"{objects} on a {spec.background} background"


def retrieval(scorer: CLIPScorer, source, num: int) -> dict:
    specs = [source.spec(i) for i in range(num)]
    images = np.stack([source[i]["video"][0] for i in range(num)])
    captions = [canonical_caption(s) for s in specs]
    candidates = sorted(set(captions))
    picked = np.argmax(scorer.similarity(images, candidates), axis=1)
    caption_top1 = float(np.mean([candidates[j] == c for j, c in zip(picked, captions)]))
    single = [i for i, s in enumerate(specs) if len(s.objects) == 1]
    truth = [OBJECT_PROMPTS.index(f"a {specs[i].objects[0].color} {specs[i].objects[0].shape}") for i in single]
    guess = np.argmax(scorer.similarity(images[single], OBJECT_PROMPTS), axis=1)
    return {"stills": num, "caption_top1": caption_top1, "caption_candidates": len(candidates),
            "caption_chance": 1 / len(candidates), "object_stills": len(single),
            "object_top1": float(np.mean(guess == np.array(truth))), "object_chance": 1 / len(OBJECT_PROMPTS)}


def evaluate(cfg: Config, workdir: str | pathlib.Path, num: int | None = None) -> dict:
    workdir = pathlib.Path(workdir)
    num = num or cfg.eval.num_samples
    scorer = load_clip(workdir)
    unseen = shapes_source(dataclasses.replace(cfg.data, seed=cfg.data.seed + UNSEEN_SEED_OFFSET), "train")
    result = {"temperature": scorer.temperature, "heldout": retrieval(scorer, shapes_source(cfg.data, "heldout"), num),
              "train_pairs": retrieval(scorer, unseen, num)}
    (workdir / "eval").mkdir(parents=True, exist_ok=True)
    (workdir / "eval" / "eval_clip.json").write_text(json.dumps(result, indent=2))
    return result


def summary(r: dict) -> str:
    lines = [f"zero-shot retrieval on unseen stills (temperature {r['temperature']:.1f}); top-1 against chance"]
    for name, label in (("heldout", "held-out colour-shape pairs"), ("train_pairs", "new stills, training pairs")):
        s = r[name]
        lines.append(f"  {label:28} caption {s['caption_top1']:6.1%} (chance {s['caption_chance']:.1%}, "
                     f"{s['caption_candidates']} distinct descriptions of {s['stills']} stills)   object "
                     f"{s['object_top1']:6.1%} (chance {s['object_chance']:.1%}, {s['object_stills']} one-object "
                     f"stills)")
    return "\n".join(lines)
