"""Reward node: water valve, fail signal and TTL outputs through gpiozero, with safety limits."""
