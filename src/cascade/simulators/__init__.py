"""Simulators: protocol-faithful stand-ins for the providers, each an app of its own.

Product code never knows it talks to one: it reaches them only through configured base
URLs. Each simulator is scriptable per phone number and records what it received, so
tests count real deliveries.
"""
