"""Model definitions: video transformer, text encoders, latent codecs."""
