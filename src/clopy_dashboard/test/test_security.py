"""The guard of state-changing requests: token, origin, host, and the pace of valve actions."""
from __future__ import annotations

import pytest

from clopy_dashboard.security import Guard, RateLimit, Refused, host_name, is_loopback


def test_loopback_needs_no_token_any_other_bind_gets_one():
    assert Guard.for_bind('127.0.0.1').token is None
    assert Guard.for_bind('localhost').token is None
    assert Guard.for_bind('::1').token is None
    a, b = Guard.for_bind('0.0.0.0').token, Guard.for_bind('198.18.0.1').token
    assert a and b and a != b and len(a) >= 24
    assert is_loopback('127.0.0.2') and not is_loopback('0.0.0.0') and not is_loopback('10.0.0.1')


def test_a_change_needs_the_same_origin():
    g = Guard.for_bind('127.0.0.1')
    g.check_change('127.0.0.1:8080', 'http://127.0.0.1:8080', None)
    for origin in (None, '', 'http://evil.example', 'http://127.0.0.1:9999', 'null', 'file://x'):
        with pytest.raises(Refused) as exc:
            g.check_change('127.0.0.1:8080', origin, None)
        assert exc.value.status == 403


def test_a_websocket_from_another_site_is_refused_one_without_origin_is_not():
    g = Guard.for_bind('127.0.0.1')
    g.check_origin('127.0.0.1:8080', None, required=False)
    g.check_origin('127.0.0.1:8080', 'http://127.0.0.1:8080', required=False)
    with pytest.raises(Refused):
        g.check_origin('127.0.0.1:8080', 'http://evil.example', required=False)


def test_a_change_needs_the_token_when_one_is_in_force():
    g = Guard.for_bind('0.0.0.0')
    origin, host = 'http://127.0.0.1:8080', '127.0.0.1:8080'
    for token in (None, '', 'wrong', g.token + 'x'):
        with pytest.raises(Refused) as exc:
            g.check_change(host, origin, token)
        assert exc.value.status == 401
    g.check_change(host, origin, g.token)
    with pytest.raises(Refused):
        g.check_read(host, None)
    g.check_read(host, g.token)


def test_a_page_reaching_the_server_by_a_dns_name_of_its_own_is_refused():
    g = Guard.for_bind('127.0.0.1')
    with pytest.raises(Refused):   # DNS rebinding: Host and Origin agree, but name another site
        g.check_change('attacker.example:8080', 'http://attacker.example:8080', None)
    g.check_change('localhost:8080', 'http://localhost:8080', None)
    g.check_change('[::1]:8080', 'http://[::1]:8080', None)
    assert host_name('[::1]:80') == '::1' and host_name('127.0.0.1:5') == '127.0.0.1'


def test_valve_actions_are_paced():
    now = [0.0]
    limit = RateLimit(min_interval_s=1.0, per_minute=3, clock=lambda: now[0])
    assert limit.take() is None
    now[0] = 0.5
    assert 'one per 1 s' in limit.take()
    now[0] = 1.0
    assert limit.take() is None
    now[0] = 2.0
    assert limit.take() is None
    now[0] = 3.0
    assert '3 per minute' in limit.take()
    now[0] = 60.5   # the first has left the minute
    assert limit.take() is None
