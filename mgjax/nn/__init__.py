"""Shared layers: norms, SwiGLU, linear with logical axes, embeddings, adaLN, remat policies."""
