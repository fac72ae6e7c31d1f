"""Vision encoders (PT2V's reference-image encoder)."""
