"""Latent codecs: the interface and the space-to-depth stand-in for the TAE."""
