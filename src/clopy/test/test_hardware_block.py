"""The `hardware` block of every parameter file (a comment at its top: the parameters
that drive devices, with their wiring; docs/hardware.md) names only parameters the
nodes have, and every BCM pin it states is the value the file really sets."""
from __future__ import annotations

import re

import pytest

from clopy.config import config_dir, load_params
from clopy.paradigms import PARADIGMS
from clopy.preflight import node_schema

START, END = '# --- hardware', '# ---'
NAMED = re.compile(r'\b([a-z_]+)\.([a-z_]+)\b')
PIN = re.compile(r'^#\s+([a-z_]+)\.([a-z_]+pin)\s+BCM (\d+)\b')


def hardware_block(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(START))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == END)
    return lines[start + 1:end]


@pytest.mark.parametrize('paradigm', list(PARADIGMS))
def test_hardware_block_names_real_parameters_and_their_pins(paradigm):
    path, params = load_params(paradigm)
    block = hardware_block(path.read_text())
    named = [(node, key) for line in block for node, key in NAMED.findall(line) if node in params]
    assert ('reward', 'valve_pin') in named and ('camera', 'source') in named
    for node, key in named:
        assert key in node_schema(node, params[node], lambda k: str(path)), f'{path}: {node}.{key}'
    pins = [m for m in map(PIN.match, block) if m]
    assert pins or paradigm == 'clmf'   # the CLNF files state the Pi's BCM pins
    for match in pins:
        node, key, pin = match.groups()
        assert params[node][key] == int(pin), f'{path}: the hardware block says {node}.{key} BCM {pin}'
    assert str(path).startswith(str(config_dir()))
