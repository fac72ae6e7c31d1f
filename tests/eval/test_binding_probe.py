import numpy as np
import pytest

from mgjax.data.moving_shapes import caption_corpus
from mgjax.models.text.tokenizer import SentencePieceTokenizer
from mgjax.eval.binding_probe import binding_probe, word_pieces


@pytest.fixture(scope="module")
def processor():
    return SentencePieceTokenizer.train(caption_corpus(num=2000, num_frames=4), 256, "bpe").processor


def test_word_pieces_point_at_each_words_first_piece(processor):
    text = "FPS-8 a big red circle moving to the left and magenta square moves upward"
    pieces = processor.encode(text, out_type=str)
    words = ["red", "left", "magenta", "upward"]
    found = word_pieces(processor, text, [text.index(word) for word in words])
    for index, word in zip(found, words):
        piece = pieces[index].replace("\u2581", "")
        assert piece and word.startswith(piece), (pieces, index, word)  # not the bare space piece before it
    assert found == sorted(found)


def _one_hot_encoder(processor, bind: bool):
    """Hidden state at each piece: counts of the pieces in its own object's part of the caption (bind) or in the
    whole caption (a bag of words)."""
    and_id = processor.piece_to_id("\u2581and")

    def encode(prompts):
        rows = processor.encode(list(prompts))
        hidden = np.zeros((len(rows), max(map(len, rows)), processor.get_piece_size()))
        for n, ids in enumerate(rows):
            cut = ids.index(and_id)
            for part in ((slice(0, cut), slice(cut, len(ids))) if bind else (slice(0, len(ids)),)):
                hidden[n, part] = np.bincount(ids[part], minlength=hidden.shape[2])
        return hidden

    return encode


def test_the_probe_tells_a_binding_encoder_from_a_bag_of_words(processor):
    bound = binding_probe(_one_hot_encoder(processor, bind=True), processor, num_frames=4, num=1200)
    bag = binding_probe(_one_hot_encoder(processor, bind=False), processor, num_frames=4, num=1200)
    assert bound["color_word_own_direction"] > 0.95 and bound["direction_word_own_color"] > 0.95
    assert bound["color_word_other_direction"] < 0.45 and bound["direction_word_other_color"] < 0.35
    for own, other in (("color_word_own_direction", "color_word_other_direction"),
                       ("direction_word_own_color", "direction_word_other_color")):
        assert abs(bag[own] - bag[other]) < 0.1 and bag[own] < 0.8
