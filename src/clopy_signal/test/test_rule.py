"""Safe rule parser: accepted arithmetic and rejected syntax."""
import math

import pytest

from clopy_signal.roi import ConfigError
from clopy_signal.rule import Rule

ROI_NAMES = ['BC_L', 'BC_R', 'M1_L', 'a', 'b', 'c']
VALUES = {'BC_L': 0.05, 'BC_R': 0.02, 'M1_L': -0.01, 'a': 3.0, 'b': 4.0,
          'c': 2.0}


@pytest.mark.parametrize('expression, expected', [
    ('BC_L-BC_R', 0.05 - 0.02),
    ('M1_L-BC_L', -0.01 - 0.05),
    ('BC_L', 0.05),
    ('(a+b)/2', 3.5),
    ('a*b', 12.0),
    ('a+b*c', 11.0),            # * before +
    ('(a+b)*c', 14.0),
    ('a-b-c', -3.0),            # left associative
    ('a/b/c', 0.375),
    ('a-b*c/4', 1.0),
    ('-a', -3.0),
    ('-a+b', 1.0),              # unary minus binds tighter than +
    ('a*-b', -12.0),
    ('--a', 3.0),
    ('+a', 3.0),
    ('-(a-b)', 1.0),
    ('2.5*a + 1e-1*b', 7.9),
    ('.5*a', 1.5),
    ('  a  -  b  ', -1.0),
])
def test_evaluate(expression, expected):
    assert Rule(expression, ROI_NAMES).evaluate(VALUES) == pytest.approx(
        expected, abs=1e-12)


def test_names_in_order_of_first_use():
    rule = Rule('M1_L - BC_L + M1_L', ROI_NAMES)
    assert rule.names == ('M1_L', 'BC_L')
    assert rule.expression == 'M1_L - BC_L + M1_L'


def test_single_name_rule():
    rule = Rule('M1_L', ['M1_L'])
    assert rule.names == ('M1_L',)
    assert rule.evaluate({'M1_L': 0.125}) == 0.125


def test_division_by_zero_is_nan():
    rule = Rule('a/(b-b)', ROI_NAMES)
    assert math.isnan(rule.evaluate({'a': 1.0, 'b': 2.0}))
    assert math.isnan(Rule('a/b', ROI_NAMES).evaluate({'a': 0.0, 'b': 0.0}))


def test_nan_input_propagates():
    assert math.isnan(Rule('a-b', ROI_NAMES).evaluate({'a': math.nan,
                                                       'b': 1.0}))


def test_extra_values_ignored_and_missing_value_named():
    rule = Rule('a-b', ROI_NAMES)
    assert rule.evaluate({'a': 1.0, 'b': 0.5, 'zzz': 9.0}) == 0.5
    with pytest.raises(KeyError, match="'b'"):
        rule.evaluate({'a': 1.0})


def test_accepts_numpy_values():
    import numpy as np
    values = dict(zip(['a', 'b'], np.array([0.25, 0.5])))
    assert Rule('a/b', ROI_NAMES).evaluate(values) == 0.5


def test_unknown_name_listed_with_allowed():
    with pytest.raises(ConfigError) as err:
        Rule('BC_L-unknown_R', ['BC_L', 'BC_R'])
    message = str(err.value)
    assert "'unknown_R'" in message
    assert "'BC_L'" in message and "'BC_R'" in message


@pytest.mark.parametrize('expression, mentions', [
    ('__import__("os")', 'not allowed'),
    ('a%b', "'%'"),
    ('a**b', "'**'"),
    ('abs(a)', 'function call'),
    ('a.real', 'attribute'),
    ('a[0]', 'indexing'),
    ('a<b', 'comparison'),
    ('a==b', "'='"),
    ('a,b', "','"),
    ('a b', "unexpected 'b'"),
    ('a+', 'ends'),
    ('(a+b', "missing ')'"),
    ('a+b)', "unexpected ')'"),
    ('()', "unexpected ')'"),
    ('', 'empty'),
    ('   ', 'empty'),
    ('a @ b', "'@'"),
    ('lambda: a', "':'"),
])
def test_rejected_syntax_says_what_is_allowed(expression, mentions):
    with pytest.raises(ConfigError) as err:
        Rule(expression, ROI_NAMES + ['abs', 'lambda'])
    message = str(err.value)
    assert mentions in message
    assert 'allowed' in message


def test_rejection_happens_without_evaluating():
    # A name that would be dangerous under eval is just an unknown name here.
    with pytest.raises(ConfigError, match="unknown name '__import__'"):
        Rule('__import__', ROI_NAMES)


def test_constant_only_rule_rejected():
    with pytest.raises(ConfigError, match='uses no ROI name'):
        Rule('1+2', ROI_NAMES)


def test_deep_nesting_rejected_cleanly():
    with pytest.raises(ConfigError, match='nesting'):
        Rule('(' * 300 + 'a' + ')' * 300, ROI_NAMES)
    with pytest.raises(ConfigError, match='nesting'):
        Rule('-' * 500 + 'a', ROI_NAMES)


def test_too_long_rejected():
    with pytest.raises(ConfigError, match='characters'):
        Rule('+'.join(['a'] * 600), ROI_NAMES)


def test_non_string_rejected():
    with pytest.raises(ConfigError, match='string'):
        Rule(42, ROI_NAMES)


def test_evaluate_checked_says_which_roi_values_divided_by_zero():
    rule = Rule('BC_L/(BC_R-BC_R)', ROI_NAMES)
    value, reason = rule.evaluate_checked({'BC_L': 0.05, 'BC_R': 0.02})
    assert math.isnan(value)
    assert reason == 'rule: division by zero (BC_L=0.05, BC_R=0.02)'
    assert Rule('BC_L/BC_R', ROI_NAMES).evaluate_checked(VALUES) == (pytest.approx(2.5), '')
    nan_input = Rule('BC_L-BC_R', ROI_NAMES).evaluate_checked({'BC_L': math.nan, 'BC_R': 0.0})
    assert math.isnan(nan_input[0]) and nan_input[1] == ''   # NaN in, not a division by zero
