"""Tokenizers with T5's special ids (pad 0, eos 1, unk 2): SentencePiece (T5, UL2) and ByT5's bytes; fixed-length
batches with truncation counted. CLIP's BPE is in `clip_tokenizer`."""

from __future__ import annotations

import dataclasses
import io
import pathlib
import uuid
from typing import Iterable, Sequence

import numpy as np
import sentencepiece as spm

from mgjax.errors import UserError

PAD_ID, EOS_ID, UNK_ID = 0, 1, 2


@dataclasses.dataclass(frozen=True)
class TokenBatch:
    ids: np.ndarray  # (b, m) int32, padded with PAD_ID
    mask: np.ndarray  # (b, m) bool, valid tokens first
    num_truncated: int  # prompts longer than the maximum length (their tail was dropped)


def pad_batch(rows: Sequence[Sequence[int]], max_length: int, pad_id: int, num_truncated: int) -> TokenBatch:
    """Rows already cut to `max_length` -> a padded batch with its mask (valid tokens first)."""
    ids = np.full((len(rows), max_length), pad_id, np.int32)
    mask = np.zeros((len(rows), max_length), bool)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = True
    return TokenBatch(ids=ids, mask=mask, num_truncated=num_truncated)


def with_eos(pieces: Sequence[int], max_length: int) -> tuple[list[int], bool]:
    """T5's layout: the pieces then EOS; a long text loses its tail, never its EOS."""
    truncated = len(pieces) + 1 > max_length
    return list(pieces[: max_length - 1]) + [EOS_ID], truncated


class ByteTokenizer:
    """ByT5: each UTF-8 byte b is id b + 3 (after pad, eos, unk), then EOS. No file; 259 ids in a 384-id vocabulary."""

    OFFSET = 3
    vocab_size = 256 + OFFSET

    def encode(self, texts: Sequence[str], max_length: int) -> TokenBatch:
        rows, truncated = [], 0
        for text in texts:
            row, cut = with_eos([b + self.OFFSET for b in text.encode("utf-8")], max_length)
            rows.append(row)
            truncated += cut
        return pad_batch(rows, max_length, PAD_ID, truncated)


class SentencePieceTokenizer:
    def __init__(self, model_proto: bytes):
        self.model_proto = model_proto
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def train(cls, corpus: Iterable[str], vocab_size: int, model_type: str = "unigram") -> "SentencePieceTokenizer":
        """Train deterministically (one thread, corpus order kept) on `corpus`; at most `vocab_size` pieces."""
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(list(corpus)), model_writer=buf, vocab_size=vocab_size, model_type=model_type,
            pad_id=PAD_ID, eos_id=EOS_ID, unk_id=UNK_ID, bos_id=-1, num_threads=1, hard_vocab_limit=False,
            character_coverage=1.0, shuffle_input_sentence=False, minloglevel=2)
        return cls(buf.getvalue())

    @classmethod
    def load(cls, path: str | pathlib.Path) -> "SentencePieceTokenizer":
        path = pathlib.Path(path)
        if not path.is_file():
            raise UserError(f"tokenizer model {str(path)!r} not found")
        return cls(path.read_bytes())

    def save(self, path: str | pathlib.Path) -> None:
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A temporary name of its own: the processes of a multi-host run each write the same bytes concurrently.
        tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(self.model_proto)
        tmp.replace(path)

    @property
    def vocab_size(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, texts: Sequence[str], max_length: int) -> TokenBatch:
        """Each text -> its pieces + EOS, truncated to `max_length` (EOS kept) and padded."""
        rows, truncated = [], 0
        for pieces in self.processor.encode(list(texts)):
            row, cut = with_eos(pieces, max_length)
            rows.append(row)
            truncated += cut
        return pad_batch(rows, max_length, PAD_ID, truncated)

    def __getstate__(self):  # picklable for Grain worker processes: only the serialized model travels
        return {"model_proto": self.model_proto}

    def __setstate__(self, state):
        self.__init__(state["model_proto"])
