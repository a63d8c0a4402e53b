"""The HTTP API: the SMSBAT-compatible Cascade contract (SPEC Part A)."""
