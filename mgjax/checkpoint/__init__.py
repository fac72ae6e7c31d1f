"""Checkpoints: Orbax save/restore of train states (`orbax`), weights restored for inference (`restore`), and weight
surgery from a parent run (`surgery`). Used by training and by the pipelines alike."""
