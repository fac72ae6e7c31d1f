"""mgjax: Movie Gen in JAX/Flax NNX."""
