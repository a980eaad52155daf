"""A task variable typed on the page, read the way `ros2 param set` reads its value
argument (YAML: 0.08 is a double, 3 an integer, true a bool, [1, 2] an array). Plain Python."""
from __future__ import annotations

import yaml

# kinds, named after rcl_interfaces/ParameterType
BOOL, INTEGER, DOUBLE, STRING = 'bool', 'integer', 'double', 'string'
INT64 = (-2 ** 63, 2 ** 63 - 1)   # what a ROS integer parameter holds
BOOL_ARRAY, INTEGER_ARRAY, DOUBLE_ARRAY, STRING_ARRAY = 'bool_array', 'integer_array', 'double_array', 'string_array'


def _kind(value) -> str | None:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return STRING
    return None


def parse_value(text: str) -> tuple[str, object]:
    """(kind, value) of `text`; a list of one kind is that kind's array; anything else
    (a mapping, a mixed list, YAML that does not parse) is the text itself as a string."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return STRING, text
    if value is None:
        return STRING, text
    kind = _kind(value)
    if kind == INTEGER and not INT64[0] <= value <= INT64[1]:
        return STRING, text   # no ROS integer: refused by the node as a value of the wrong type
    if kind is not None:
        return kind, value
    if isinstance(value, list) and value:
        kinds = {_kind(v) for v in value}
        if len(kinds) == 1 and None not in kinds:
            return f'{kinds.pop()}_array', value
        if kinds == {INTEGER, DOUBLE}:
            return DOUBLE_ARRAY, [float(v) for v in value]
    return STRING, text
