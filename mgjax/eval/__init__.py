"""Evaluation metrics and judges."""
