"""The reward package's errors."""


class OutputError(RuntimeError):
    """A rig output cannot be opened or used (the message names the device, the setting
    and what to check)."""


class ValveLimitError(ValueError):
    """A valve or pulse setting over its limit; one line naming where, key, value and what is allowed."""


class PinSettingError(ValveLimitError):
    """An output pin the backend cannot drive, or two outputs on one pin (checked with
    the valve's limits, by the pre-flight and the node: clopy_reward.pins.check_output_pins)."""
