"""One parameter schema per node: name, type, default, unit, description, range or choices.

The same schema is used twice:
  * by the node, to declare its ROS parameters with descriptors (description, range,
    read-only), so `ros2 param describe`, rqt_reconfigure and `ros2 param set` show and
    enforce them (:meth:`NodeSchema.declare`);
  * by the pre-flight check of `clopy run` and of the launch files, before any process
    starts (:meth:`NodeSchema.check`): every unknown key, wrong type, NaN/inf or
    out-of-range value is refused with one line naming the file, `node.key`, the value
    and what is allowed.
Defaults are written here, once. This module imports no rclpy at import time.
"""
from __future__ import annotations

import difflib
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

_TYPES = ('bool', 'int', 'float', 'str', 'int[]', 'float[]', 'str[]')

#: Parameters under these prefixes come from a parameter file's `/**` section, which
#: every node receives; a node that has none of them is not refused for them.
SHARED_PREFIXES = ('synthetic_behaviour.',)

#: Whole-number parameters stay within 32 bits: rqt_reconfigure puts an integer range on a
#: Qt slider of 32-bit ints and (before 1.1.4) stops listing a node's parameters at the first
#: range beyond it (docs/rqt.md). An open bound of the range is this limit.
INT32_MIN, INT32_MAX = -2 ** 31, 2 ** 31 - 1


class SchemaError(ValueError):
    """A parameter value the schema does not allow (the message says what is allowed)."""


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return 'bool'
    if isinstance(default, numbers.Integral):
        return 'int'
    if isinstance(default, numbers.Real):
        return 'float'
    if isinstance(default, str):
        return 'str'
    if isinstance(default, (list, tuple)):
        if all(isinstance(x, bool) for x in default) and default:
            raise TypeError('bool arrays are not used')
        if all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in default) and default:
            return 'int[]'
        if all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in default) and default:
            return 'float[]'
        return 'str[]'
    raise TypeError(f'unsupported default {default!r}')


@dataclass(frozen=True)
class Param:
    """One parameter. ``type`` is taken from the default unless given (e.g. 'float[]'
    for an empty list). Ranges are inclusive (``min``/``max``); ``gt`` is an exclusive
    lower bound (e.g. a rate > 0). ``dynamic``: may change while the node runs
    (otherwise read-only once declared)."""

    name: str
    default: Any
    description: str
    unit: str = ''
    min: float | None = None
    max: float | None = None
    gt: float | None = None
    choices: tuple | None = None
    type: str = ''
    dynamic: bool = False
    note: str = ''        # a further rule, said with the range (e.g. a ceiling and its override)

    def __post_init__(self) -> None:
        kind = self.type or _kind(self.default)
        if kind not in _TYPES:
            raise TypeError(f'{self.name}: type {kind!r}; allowed: {_TYPES}')
        object.__setattr__(self, 'type', kind)
        if self.choices is not None:
            object.__setattr__(self, 'choices', tuple(self.choices))

    # -- what is allowed, in words -------------------------------------------------
    def allowed(self) -> str:
        unit = f' {self.unit}' if self.unit else ''
        if self.choices is not None:
            return 'one of ' + ', '.join(repr(c) for c in self.choices)
        what = {'bool': 'true or false', 'int': 'a whole number', 'float': 'a finite number',
                'str': 'a string', 'int[]': 'a list of whole numbers', 'float[]': 'a list of finite numbers',
                'str[]': 'a list of strings'}[self.type]
        bounds = []
        if self.gt is not None:
            bounds.append(f'> {self.gt:g}{unit}')
        if self.min is not None:
            bounds.append(f'>= {self.min:g}{unit}')
        if self.max is not None:
            bounds.append(f'<= {self.max:g}{unit}')
        text = what + (' ' + ' and '.join(bounds) if bounds else (unit and f' ({self.unit})'))
        return f'{text} ({self.note})' if self.note else text

    def coerce(self, value: Any) -> Any:
        """The value as this parameter's type, or SchemaError (no key or file in the text)."""
        bad = SchemaError(f'{value!r}: allowed: {self.allowed()}')
        t = self.type
        if t == 'bool':
            if not isinstance(value, bool):
                raise bad
            return value
        if t in ('int', 'float'):
            value = self._number(value, t, bad)
            self._check_range(value, bad)
        elif t == 'str':
            if not isinstance(value, str):
                raise bad
        else:
            if not isinstance(value, (list, tuple)):
                raise bad
            item = t[:-2]
            if item == 'str':
                if not all(isinstance(x, str) for x in value):
                    raise bad
                value = list(value)
            else:
                value = [self._number(x, item, bad) for x in value]
                for x in value:
                    self._check_range(x, bad)
        if self.choices is not None and value not in self.choices:
            raise bad
        return value

    @staticmethod
    def _number(value: Any, t: str, bad: SchemaError) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise bad
        if not math.isfinite(float(value)):
            raise bad
        if t == 'int':
            if isinstance(value, numbers.Integral):
                return int(value)
            if float(value).is_integer():
                return int(value)
            raise bad
        return float(value)

    def _check_range(self, value: float, bad: SchemaError) -> None:
        if self.type in ('int', 'int[]') and not INT32_MIN <= value <= INT32_MAX:
            raise SchemaError(f'{value!r}: allowed: {self.allowed()}, within 32 bits ({INT32_MIN} to {INT32_MAX})')
        if self.gt is not None and not value > self.gt:
            raise bad
        if self.min is not None and value < self.min:
            raise bad
        if self.max is not None and value > self.max:
            raise bad


class NodeSchema:
    """The parameters of one node. ``shared_prefixes``: names under these prefixes may
    appear in the node's block (they come from the parameter file's `/**` section for
    several nodes) and belong to ``shared`` schemas."""

    def __init__(self, node: str, params: Iterable[Param], shared: Iterable['NodeSchema'] = ()):
        self.node = node
        self.params: dict[str, Param] = {}
        for p in params:
            if p.name in self.params:
                raise ValueError(f'{node}: parameter {p.name} defined twice')
            self.params[p.name] = p
        for other in shared:
            for p in other.params.values():
                self.params.setdefault(p.name, p)

    def __getitem__(self, name: str) -> Param:
        return self.params[name]

    def __iter__(self):
        return iter(self.params.values())

    def __contains__(self, name: str) -> bool:
        return name in self.params

    def extended(self, params: Iterable[Param]) -> 'NodeSchema':
        """This schema plus ``params`` (e.g. the chosen backend's own parameters)."""
        return NodeSchema(self.node, list(self.params.values()) + list(params))

    def defaults(self) -> dict[str, Any]:
        return {name: p.default for name, p in self.params.items()}

    def check(self, values: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Every key known, every value allowed; returns the values converted (30 -> 30.0
        for a float). SchemaError: '<where>: node.key = value: allowed ...'."""
        out = {}
        for key, value in values.items():
            p = self.params.get(key)
            if p is None:
                close = difflib.get_close_matches(str(key), list(self.params), n=1)
                hint = f'; did you mean {close[0]}?' if close else ''
                raise SchemaError(f'{where}: {self.node}.{key} = {value!r}: unknown parameter; '
                                  f'{self.node} has: {", ".join(sorted(self.params))}{hint}')
            try:
                out[key] = p.coerce(value)
            except SchemaError as exc:
                raise SchemaError(f'{where}: {self.node}.{key} = {exc}') from None
        return out

    # -- ROS -------------------------------------------------------------------------
    def given(self, node, name: str) -> Any:
        """The value given to ``node`` for ``name`` (parameter file, --set), else the
        default, before anything is declared: what chooses a backend, whose own
        parameters then join the schema."""
        param = getattr(node, '_parameter_overrides', {}).get(name)
        return self.params[name].default if param is None else param.value

    def declare(self, node, ignore: Iterable[str] = (), check_sets: bool = True) -> dict[str, Any]:
        """Declare every parameter on an rclpy node with its descriptor; returns
        {name: value}. The values given to the node are checked here too (a node
        started by hand, not through the pre-flight check), and so is every name given
        to it (parameter file, --set) that it does not have: a misspelt `valve_pulse`
        must not run the session on defaults. Names under SHARED_PREFIXES and
        ``ignore`` (other backends' parameters, names or 'prefix.') are let through.
        ``check_sets``: every later change goes through :meth:`on_set` (a node with its
        own callback calls on_set itself, first)."""
        from clopy_common.node_main import StartupError
        given = set(getattr(node, '_parameter_overrides', {}))
        skip = tuple(ignore) + SHARED_PREFIXES
        unknown = sorted(n for n in given if n not in self.params and n != 'use_sim_time'
                         and not node.has_parameter(n) and not n.startswith(skip))
        if unknown:
            raise StartupError(f'{self.node}: unknown parameter(s) {unknown}; this node has '
                               f'{sorted(set(self.params) | set(node._parameters) - {"use_sim_time"})}')
        values = {}
        for p in self.params.values():
            try:   # the given value first: the schema's message, not rclpy's range or type error
                p.coerce(self.given(node, p.name))
                param = node.declare_parameter(p.name, _declared_default(p), descriptor(p))
                values[p.name] = p.coerce(p.default if param.value is None else param.value)
            except SchemaError as exc:
                raise StartupError(f'{self.node}.{p.name} = {exc}') from None
        if check_sets:
            node.add_on_set_parameters_callback(self.on_set)
        return values

    def on_set(self, parameters):
        """`ros2 param set` (and every other change) goes through the same check."""
        from rcl_interfaces.msg import SetParametersResult
        for param in parameters:
            p = self.params.get(param.name)
            if p is None:
                continue
            try:
                p.coerce(param.value)
            except SchemaError as exc:
                return SetParametersResult(successful=False, reason=f'{self.node}.{param.name} = {exc}')
        return SetParametersResult(successful=True)


class ChosenSchema:
    """A node whose full schema depends on one of its parameters choosing a backend
    (the camera's `source`, the pose node's `backend`): the chosen backend's own
    parameters join the node's. ``params_of(choice)`` gives them (SchemaError when the
    choice is unknown or cannot be loaded); ``choices()`` lists every choice."""

    def __init__(self, base: NodeSchema, key: str, params_of: Callable[[str], Iterable[Param]],
                 choices: Callable[[], Iterable[str]]):
        self.base, self.key, self.params_of, self.choices = base, key, params_of, choices

    def schema(self, choice: str) -> NodeSchema:
        """The node's full schema when ``key`` is ``choice``."""
        return self.base.extended(self.params_of(choice))

    def others(self, choice: str) -> dict[str, Param]:
        """{name: Param} of the choices not made that can be loaded: a parameter file
        may keep them (a rig's `synthetic.*` for its --sim runs); checked, not declared."""
        out: dict[str, Param] = {}
        for other in self.choices():
            if other != choice:
                try:
                    out.update((p.name, p) for p in self.params_of(other))
                except SchemaError:
                    continue
        return out

    def for_values(self, values: Mapping[str, Any], where: Callable[[str], str]) -> NodeSchema:
        """The schema to check ``values`` (a parameter file's block) against: the full
        schema of the choice they make, plus the other choices' parameters."""
        choice = self.base.check({self.key: values.get(self.key, self.base[self.key].default)},
                                 where(self.key))[self.key]
        schema = self.schema(choice)
        return schema.extended(p for name, p in self.others(choice).items() if name not in schema)

    def declare(self, node) -> tuple[str, dict[str, Any]]:
        """Declare the full schema of the choice given to the node; (choice, values)."""
        from clopy_common.node_main import StartupError
        choice = self.base.given(node, self.key)
        try:
            schema = self.schema(choice)
        except SchemaError as exc:
            raise StartupError(str(exc)) from None
        return choice, schema.declare(node, ignore=tuple(self.others(choice)))


def _declared_default(p: Param):
    """What rclpy is given as the default: an empty list has no element type, so rclpy
    would make it a byte array; such a parameter is declared by its type instead (its
    value stays unset unless given, and the schema's empty default applies)."""
    if isinstance(p.default, (list, tuple)) and not p.default:
        from rclpy.parameter import Parameter
        return {'int[]': Parameter.Type.INTEGER_ARRAY, 'float[]': Parameter.Type.DOUBLE_ARRAY,
                'str[]': Parameter.Type.STRING_ARRAY}[p.type]
    return p.default


def descriptor(p: Param):
    """rcl_interfaces ParameterDescriptor of a Param (description with unit and range)."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
    types = {'bool': ParameterType.PARAMETER_BOOL, 'int': ParameterType.PARAMETER_INTEGER,
             'float': ParameterType.PARAMETER_DOUBLE, 'str': ParameterType.PARAMETER_STRING,
             'int[]': ParameterType.PARAMETER_INTEGER_ARRAY, 'float[]': ParameterType.PARAMETER_DOUBLE_ARRAY,
             'str[]': ParameterType.PARAMETER_STRING_ARRAY}
    text = p.description + (f' [{p.unit}]' if p.unit else '')
    d = ParameterDescriptor(description=text, type=types[p.type], read_only=not p.dynamic,
                            additional_constraints=f'allowed: {p.allowed()}')
    low = p.min if p.min is not None else p.gt
    if p.type in ('float', 'float[]') and (low is not None or p.max is not None):
        d.floating_point_range = [FloatingPointRange(
            from_value=float(low if low is not None else -math.inf),
            to_value=float(p.max if p.max is not None else math.inf), step=0.0)]
    if p.type in ('int', 'int[]') and (low is not None or p.max is not None):
        lo = int(math.floor(low)) + (1 if p.min is None and p.gt is not None and float(low).is_integer() else 0) \
            if low is not None else INT32_MIN
        d.integer_range = [IntegerRange(from_value=lo, to_value=int(p.max) if p.max is not None else INT32_MAX,
                                        step=0)]
    return d
