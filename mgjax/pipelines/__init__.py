"""End-to-end sampling pipelines and writing videos."""
