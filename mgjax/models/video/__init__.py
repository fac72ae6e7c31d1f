"""The Movie Gen Video transformer and its variants."""
