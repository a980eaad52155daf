"""The error of signal-processing configuration (ROIs, atlas names, rules, dF/F),
in a module of its own so atlas, roi and rule all import it one way."""


class ConfigError(ValueError):
    """A signal-processing configuration value is invalid.

    The message names the offending key/value and says what is allowed.
    """
