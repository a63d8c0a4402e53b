"""Cascade: a self-hosted multi-channel messaging gateway."""

__version__ = "0.1.0"
