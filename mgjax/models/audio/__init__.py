"""Movie Gen Audio (paper §6): the DAC-VAE codec."""
