"""Text encoders, tokenizers and prompt handling."""
