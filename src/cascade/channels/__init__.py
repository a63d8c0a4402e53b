"""Channels: one package per channel, each speaking its provider's real protocol."""
