import dataclasses

import numpy as np

from conftest import micro_config
from mgjax.data.t2v_loader import caption_corpus_for, t2v_batches
from mgjax.models.text.stack import load_or_train_tokenizers


def test_batches_are_a_function_of_the_step_and_mix_images():
    cfg = micro_config(steps=6)
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, image_every=3))
    toks = load_or_train_tokenizers(cfg.text.encoders, None, corpus=lambda: caption_corpus_for(cfg, num=300))
    run = list(t2v_batches(cfg, toks))
    assert len(run) == 6
    frames = [b["video"].shape[1] for b in run]
    assert frames == [8, 8, 1, 8, 8, 1]  # every 3rd batch holds one-frame images
    assert run[0]["video"].shape == (8, 8, 16, 16, 3) and run[0]["video"].dtype == np.uint8
    ids, mask = run[0]["text"][0]
    assert ids.shape == mask.shape == (8, cfg.text.encoders[0].max_length) and mask[:, 0].all()
    resumed = list(t2v_batches(cfg, toks, start_step=4))  # a resumed run sees the same stream
    for a, b in zip(resumed, run[4:]):
        assert np.array_equal(a["video"], b["video"]) and np.array_equal(a["text"][0][0], b["text"][0][0])
    assert not np.array_equal(run[0]["video"], run[1]["video"])
