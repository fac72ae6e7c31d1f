"""SentencePiece tokenization with T5's special ids (pad 0, eos 1, unk 2), fixed-length batches and truncation counts."""

from __future__ import annotations

import dataclasses
import io
import pathlib
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
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(self.model_proto)
        tmp.replace(path)

    @property
    def vocab_size(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, texts: Sequence[str], max_length: int) -> TokenBatch:
        """Each text -> its pieces + EOS, truncated to `max_length` (EOS kept) and padded."""
        ids = np.full((len(texts), max_length), PAD_ID, np.int32)
        truncated = 0
        for i, pieces in enumerate(self.processor.encode(list(texts))):
            if len(pieces) + 1 > max_length:
                truncated += 1
                pieces = pieces[: max_length - 1]
            row = list(pieces) + [EOS_ID]
            ids[i, : len(row)] = row
        mask = np.arange(max_length)[None, :] < (ids != PAD_ID).sum(1, keepdims=True)
        return TokenBatch(ids=ids, mask=mask, num_truncated=truncated)

    def __getstate__(self):  # picklable for Grain worker processes: only the serialized model travels
        return {"model_proto": self.model_proto}

    def __setstate__(self, state):
        self.__init__(state["model_proto"])
