"""The reward package's errors."""


class OutputError(RuntimeError):
    """A rig output cannot be opened or used (the message names the device, the setting
    and what to check)."""
