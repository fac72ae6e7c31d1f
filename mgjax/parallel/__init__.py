"""Meshes, logical-axis rules per component, and sharding helpers."""
