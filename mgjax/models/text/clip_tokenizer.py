"""CLIP's byte-level BPE from `vocab.json` and `merges.txt`, written from the published algorithm (OpenAI CLIP's
simple_tokenizer) with Hugging Face's text clean-up, so ids match `transformers.CLIPTokenizer`:

NFC, runs of whitespace -> one space, lowercase; split into words by CLIP's pattern (contractions, letter runs, single
digits, punctuation runs); each word's UTF-8 bytes mapped to printable characters, "</w>" marks its end; merges
applied lowest rank first; BOS + ids + EOS, padded with EOS (the mask says what is padding).

OpenAI's and open_clip's reference also runs ftfy and HTML unescaping, which changes curly quotes (’ -> '); Hugging
Face's does not, and neither do we (20 of the 1003 Movie Gen Bench prompts contain ’).
"""

from __future__ import annotations

import functools
import json
import pathlib
import unicodedata
from typing import Sequence

import regex

from mgjax.errors import UserError
from mgjax.models.text.tokenizer import TokenBatch, pad_batch

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
WORD = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                     regex.IGNORECASE)
WHITESPACE = regex.compile(r"\s+")


@functools.cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from the 256 bytes to printable unicode characters."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = keep[:]
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(keep, map(chr, chars)))


def clean(text: str) -> str:
    return WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).lower()


class CLIPTokenizer:
    def __init__(self, vocab: dict[str, int], merges: Sequence[tuple[str, str]]):
        self.encoder = vocab
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        for token in (BOS, EOS):
            if token not in vocab:
                raise UserError(f"CLIP vocabulary lacks the special token {token}")
        self.bos_id, self.eos_id = vocab[BOS], vocab[EOS]
        self.byte_chars = bytes_to_unicode()
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def load(cls, directory: str | pathlib.Path) -> "CLIPTokenizer":
        d = pathlib.Path(directory)
        vocab_file, merges_file = d / "vocab.json", d / "merges.txt"
        for f in (vocab_file, merges_file):
            if not f.is_file():
                raise UserError(f"CLIP tokenizer file {str(f)!r} not found (tokenizer_path must be a directory with "
                                f"vocab.json and merges.txt)")
        vocab = json.loads(vocab_file.read_text(encoding="utf-8"))
        merges = []
        for line in merges_file.read_text(encoding="utf-8").splitlines():
            if line.startswith("#version") or not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2:
                raise UserError(f"{str(merges_file)!r}: a merge line needs two symbols, got {line!r}")
            merges.append((parts[0], parts[1]))
        return cls(vocab, merges)

    @property
    def vocab_size(self) -> int:
        return len(self.encoder)

    def bpe(self, word: str) -> list[str]:
        """One pre-tokenized word (already byte-mapped) -> its BPE symbols, merging the lowest-ranked pair first."""
        symbols = list(word[:-1]) + [word[-1] + "</w>"]
        while len(symbols) > 1:
            ranked = [(self.ranks[p], i) for i, p in enumerate(zip(symbols, symbols[1:])) if p in self.ranks]
            if not ranked:
                break
            at = min(ranked)[1]
            first, second = symbols[at], symbols[at + 1]
            merged, i = [], 0
            while i < len(symbols):  # merge every occurrence of the best pair, left to right
                if i < len(symbols) - 1 and symbols[i] == first and symbols[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        return symbols

    def _word_ids(self, word: str) -> list[int]:
        if word in (BOS, EOS):
            return [self.encoder[word]]
        if word not in self._cache:
            mapped = "".join(self.byte_chars[b] for b in word.encode("utf-8"))
            unk = self.eos_id  # CLIP's unknown token is <|endoftext|>; a full byte-level vocab never needs it
            self._cache[word] = [self.encoder.get(s, unk) for s in self.bpe(mapped)]
        return self._cache[word]

    def tokenize(self, text: str) -> list[int]:
        return [i for word in WORD.findall(clean(text)) for i in self._word_ids(word)]

    def encode(self, texts: Sequence[str], max_length: int) -> TokenBatch:
        """BOS + ids + EOS per text; a long text keeps BOS, its first max_length - 2 ids and EOS."""
        rows, truncated = [], 0
        for text in texts:
            ids = self.tokenize(text)
            truncated += len(ids) + 2 > max_length
            rows.append([self.bos_id] + ids[: max_length - 2] + [self.eos_id])
        return pad_batch(rows, max_length, self.eos_id, truncated)
