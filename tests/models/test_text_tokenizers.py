"""ByT5 bytes, CLIP BPE and prompt handling (transformers parity on the bench prompts is in tests/parity)."""

import json

import pytest

from conftest import write_clip_vocab
from mgjax.errors import UserError
from mgjax.models.text.clip_tokenizer import CLIPTokenizer
from mgjax.models.text.prompts import (CAMERA_MOTIONS, build_prompt, quoted_spans, quoted_text,
                                       with_camera_prefix)
from mgjax.models.text.tokenizer import EOS_ID, ByteTokenizer


def test_byt5_ids_are_utf8_bytes_plus_three_then_eos():
    batch = ByteTokenizer().encode(["héllo", ""], max_length=10)
    assert batch.ids[0].tolist() == [107, 198, 172, 111, 111, 114, EOS_ID, 0, 0, 0]  # transformers' ByT5Tokenizer
    assert batch.mask[0].sum() == 7 and batch.ids[1, 0] == EOS_ID and batch.mask[1].sum() == 1
    cut = ByteTokenizer().encode(["abcdef"], max_length=4)
    assert cut.num_truncated == 1 and cut.ids[0].tolist() == [100, 101, 102, EOS_ID]


def test_clip_bpe_merges_lowest_rank_first_and_frames_with_bos_eos(tmp_path):
    d = write_clip_vocab(tmp_path / "clip", merges=[("c", "a"), ("ca", "t</w>"), ("a", "t</w>")])
    tok = CLIPTokenizer.load(d)
    vocab = json.loads((d / "vocab.json").read_text())
    assert tok.bpe("cat") == ["cat</w>"]  # (c, a) ranks before (a, t</w>)
    assert tok.bpe("bat") == ["b", "at</w>"]
    batch = tok.encode(["  A  CAT!"], max_length=8)
    expect = [vocab["<|startoftext|>"], vocab["a</w>"], vocab["cat</w>"], vocab["!</w>"], vocab["<|endoftext|>"]]
    assert batch.ids[0, :5].tolist() == expect and batch.mask[0].sum() == 5
    assert (batch.ids[0, 5:] == vocab["<|endoftext|>"]).all()  # padded with EOS, masked out
    # non-ASCII goes through bytes; contractions split off; digits one at a time
    assert len(tok.tokenize("é")) == 2 and len(tok.tokenize("it's 42")) == 2 + 2 + 1 + 1
    long = tok.encode(["cat " * 20], max_length=6)
    assert long.num_truncated == 1 and long.ids[0, 0] == tok.bos_id and long.ids[0, -1] == tok.eos_id


def test_clip_tokenizer_names_a_missing_file(tmp_path):
    with pytest.raises(UserError, match="vocab.json"):
        CLIPTokenizer.load(tmp_path)


def test_quoted_spans_feed_byt5():
    assert quoted_spans('Clouds move to form the word "Meta"') == ["Meta"]
    assert quoted_text('a sign reading “OPEN” and a mug saying "hi there"') == "OPEN hi there"
    assert quoted_text("a red circle") == "" and quoted_text('an unmatched " quote') == ""


def test_fps_and_camera_prefixes():
    assert build_prompt("a dog runs", fps=24, camera_motion="pan left") == "FPS-24 Camera pan left. a dog runs"
    assert build_prompt("a dog runs") == "a dog runs" and len(CAMERA_MOTIONS) == 16  # the paper's 16 classes
    with pytest.raises(UserError, match="valid: static"):
        with_camera_prefix("x", "barrel roll")
