"""The processor example of docs/clmf.md ("Your own control value") runs as written:
its class, saved as the module it names, is made from the YAML block's settings by the
speed node's loader and turns poses into control values."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

DOC = Path(__file__).resolve().parents[1] / 'docs' / 'clmf.md'


def section() -> str:
    text = DOC.read_text()
    return text.split('## Your own control value', 1)[1].split('\n## ', 1)[0]


def test_the_documented_processor_runs(tmp_path, monkeypatch):
    from clopy_signal.control import ControlValue, PoseSample, make_processor
    code = re.search(r'```python\n(.*?)```', section(), re.S).group(1)
    params = yaml.safe_load(re.search(r'```yaml\n(.*?)```', section(), re.S).group(1))['speed']['ros__parameters']
    module_path, class_name = params['processor'].split(':')
    package = tmp_path / module_path.split('.')[0]
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / (module_path.split('.')[1] + '.py')).write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        settings = {'control_part': 'fl_l', 'likelihood_min': 0.0, 'px_per_mm': 3.5, 'smoothing_frames': 1,
                    'units': 'px_per_frame', 'target_px': [0.0, 0.0]} | params
        processor = make_processor(params['processor'], settings)
        part = params['control_part']
        lifted = processor.process(PoseSample(0.0, 0, {part: (10.0, 120.0, 0.9)}))
        assert lifted == ControlValue(30.0, 'px', True)
        unsure = processor.process(PoseSample(0.1, 1, {part: (10.0, 120.0, 0.1)}))
        assert unsure.valid is False
    finally:
        for name in [m for m in sys.modules if m.split('.')[0] == package.name]:
            del sys.modules[name]
