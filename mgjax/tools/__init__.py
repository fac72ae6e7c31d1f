"""Command-line tools: inspect (parameters, tokens, FLOPs)."""
