"""The torch/transformers side of the parity tests. Runs in the parity environment (.venv-parity, made by `make test`
from tests/parity/requirements.txt), never imports mgjax, and talks to the tests through files only.

    python tests/parity/reference.py WORKDIR

reads WORKDIR/spec.json (written by the test) and WORKDIR/corpus.txt, WORKDIR/prompts.txt, WORKDIR/spiece.model;
writes:
  clip_tokenizer/vocab.json, merges.txt  a CLIP-format BPE vocabulary trained here on corpus.txt (never on prompts);
  tokens.npz      reference ids and masks of every prompt for t5 (T5Tokenizer), byt5 (ByT5Tokenizer), clip
                  (CLIPTokenizer), plus untruncated lengths;
  <model>/        tiny random Hugging Face models (seeded), saved as safetensors: t5, ul2 (a full encoder-decoder),
                  byt5, clip (a CLIPModel with text and vision towers), clip77 (a 77-position text tower);
  outputs.npz     their outputs on the reference ids (and on seeded random images for the vision tower).
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (ByT5Tokenizer, CLIPConfig, CLIPModel, CLIPTextConfig, CLIPTextModel, CLIPTokenizer,
                          CLIPVisionConfig, T5Config, T5EncoderModel, T5ForConditionalGeneration, T5Tokenizer)

CLIP_SPLIT = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def train_clip_vocab(corpus: pathlib.Path, out: pathlib.Path, num_merges: int) -> None:
    """Merges learned by `tokenizers` with CLIP's pre-tokenization; vocab.json laid out as CLIP's is: the 256 byte
    symbols, the same with </w>, one entry per merge, then the two special tokens."""
    tok = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                           normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CLIP_SPLIT), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) * 2 + num_merges, show_progress=False,
                                  initial_alphabet=alphabet, end_of_word_suffix="</w>", min_frequency=2)
    tok.train([str(corpus)], trainer)
    merges = json.loads(tok.to_str())["model"]["merges"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]
    byte_symbols = [chr(c) for c in _byte_chars()]
    vocab = byte_symbols + [s + "</w>" for s in byte_symbols]
    seen = set(vocab)
    for a, b in merges:
        if a + b not in seen:
            vocab.append(a + b)
            seen.add(a + b)
    vocab += [BOS, EOS]
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps({s: i for i, s in enumerate(vocab)}, ensure_ascii=False), "utf-8")
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n", "utf-8")


def _byte_chars() -> list[int]:
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, n = keep[:], 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return [c for _, c in sorted(zip(keep, chars))]


def tokenize(tok, texts: list[str], max_length: int) -> dict[str, np.ndarray]:
    enc = tok(texts, max_length=max_length, padding="max_length", truncation=True, return_tensors="np")
    full = tok(texts, truncation=False)["input_ids"]
    return {"ids": enc["input_ids"].astype(np.int32), "mask": enc["attention_mask"].astype(bool),
            "lengths": np.array([len(f) for f in full], np.int32)}


def quoted(prompt: str) -> str:
    import re
    return " ".join(a or b for a, b in re.findall(r'"([^"]+)"|“([^”]+)”', prompt))


def t5_model(spec: dict, vocab: int, act: str, full: bool, out: pathlib.Path):
    torch.manual_seed(spec["seed"])
    cfg = T5Config(vocab_size=vocab, d_model=spec["width"], d_kv=spec["head_dim"], d_ff=spec["ffn"],
                   num_layers=spec["layers"], num_decoder_layers=1, num_heads=spec["heads"],
                   relative_attention_num_buckets=32, relative_attention_max_distance=128, dropout_rate=0.0,
                   feed_forward_proj=f"gated-{act}", layer_norm_epsilon=1e-6, initializer_factor=spec["init"])
    model = (T5ForConditionalGeneration if full else T5EncoderModel)(cfg).eval()
    model.save_pretrained(out, safe_serialization=True)
    return model if not full else model.get_encoder()


def run_t5(model, batch: dict[str, np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return model(input_ids=torch.from_numpy(batch["ids"]).long(),
                     attention_mask=torch.from_numpy(batch["mask"]).long()).last_hidden_state.numpy()


def clip_configs(spec: dict, vocab: int, bos: int, eos: int, positions: int):
    text = CLIPTextConfig(vocab_size=vocab, hidden_size=spec["width"], intermediate_size=spec["ffn"],
                          num_hidden_layers=spec["layers"], num_attention_heads=spec["heads"],
                          max_position_embeddings=positions, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                          bos_token_id=bos, eos_token_id=eos, pad_token_id=eos, projection_dim=spec["projection"],
                          initializer_factor=spec["init"])
    vision = CLIPVisionConfig(hidden_size=spec["width"], intermediate_size=spec["ffn"],
                              num_hidden_layers=spec["layers"], num_attention_heads=spec["heads"],
                              image_size=spec["image_size"], patch_size=spec["patch_size"], hidden_act="quick_gelu",
                              layer_norm_eps=1e-5,
                              projection_dim=spec["projection"], initializer_factor=spec["init"])
    return text, vision


def main(workdir: str) -> None:
    work = pathlib.Path(workdir)
    spec = json.loads((work / "spec.json").read_text())
    prompts = (work / "prompts.txt").read_text("utf-8").split("\n")
    lengths = spec["max_length"]

    train_clip_vocab(work / "corpus.txt", work / "clip_tokenizer", spec["clip_merges"])
    t5_tok = T5Tokenizer.from_pretrained(str(work / "spm"))
    clip_tok = CLIPTokenizer.from_pretrained(str(work / "clip_tokenizer"))
    tokens = {"t5": tokenize(t5_tok, prompts, lengths["t5"]),
              "byt5": tokenize(ByT5Tokenizer(), [quoted(p) for p in prompts], lengths["byt5"]),
              "byt5_full": tokenize(ByT5Tokenizer(), prompts, lengths["byt5"]),
              "clip": tokenize(clip_tok, prompts, lengths["clip"])}
    np.savez(work / "tokens.npz", **{f"{k}/{f}": v for k, d in tokens.items() for f, v in d.items()})

    m = spec["model"]
    outputs = {}
    spm_vocab = spec["t5_vocab"]
    outputs["t5"] = run_t5(t5_model(m, spm_vocab, "gelu", False, work / "t5"), tokens["t5"])
    outputs["ul2"] = run_t5(t5_model(m, spm_vocab, "silu", True, work / "ul2"), tokens["t5"])
    outputs["byt5"] = run_t5(t5_model(m, 384, "gelu", False, work / "byt5"), tokens["byt5_full"])

    vocab = json.loads((work / "clip_tokenizer" / "vocab.json").read_text("utf-8"))
    bos, eos = vocab[BOS], vocab[EOS]
    torch.manual_seed(m["seed"])
    text_cfg, vision_cfg = clip_configs(m, len(vocab), bos, eos, lengths["clip"])
    clip = CLIPModel(CLIPConfig(text_config=text_cfg.to_dict(), vision_config=vision_cfg.to_dict(),
                                projection_dim=m["projection"])).eval()
    clip.save_pretrained(work / "clip", safe_serialization=True)
    rng = np.random.default_rng(m["seed"])
    images = rng.normal(size=(4, 3, m["image_size"], m["image_size"])).astype(np.float32)
    ids = torch.from_numpy(tokens["clip"]["ids"]).long()
    mask = torch.from_numpy(tokens["clip"]["mask"]).long()
    with torch.no_grad():
        text_out = clip.text_model(input_ids=ids, attention_mask=mask)
        outputs["clip_text"] = text_out.last_hidden_state.numpy()
        outputs["clip_text_embeds"] = clip.text_projection(text_out.pooler_output).numpy()
        vis = clip.vision_model(pixel_values=torch.from_numpy(images))
        outputs["clip_vision"] = vis.last_hidden_state.numpy()
        outputs["clip_image_embeds"] = clip.visual_projection(vis.pooler_output).numpy()
    outputs["images_nhwc"] = images.transpose(0, 2, 3, 1)

    torch.manual_seed(m["seed"] + 1)
    text77, _ = clip_configs(m, len(vocab), bos, eos, 77)
    CLIPTextModel(text77).eval().save_pretrained(work / "clip77", safe_serialization=True)
    np.savez(work / "outputs.npz", **outputs)


if __name__ == "__main__":
    main(sys.argv[1])
