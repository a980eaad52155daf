"""Where the project's .msg files are found: ament index, then the pip-installed
copy under sys.prefix, then the source tree; the error names every place looked."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from clopy_data.bag_types import find_interface_dir

SRC_MSG_DIR = Path(__file__).resolve().parents[2] / 'clopy_interfaces' / 'msg'


def test_ament_index_comes_first(monkeypatch, tmp_path):
    pytest.importorskip('ament_index_python')
    prefix = tmp_path / 'install'
    (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages').mkdir(parents=True)
    (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'clopy_interfaces').touch()
    (prefix / 'share' / 'clopy_interfaces' / 'msg').mkdir(parents=True)
    (tmp_path / 'share' / 'clopy_data' / 'msg').mkdir(parents=True)
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(prefix))
    monkeypatch.setattr(sys, 'prefix', str(tmp_path))
    assert find_interface_dir() == prefix / 'share' / 'clopy_interfaces' / 'msg'


def test_pip_installed_copy_without_the_ament_index(monkeypatch, tmp_path):
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    installed = tmp_path / 'share' / 'clopy_data' / 'msg'
    installed.mkdir(parents=True)
    monkeypatch.setattr(sys, 'prefix', str(tmp_path))
    assert find_interface_dir() == installed


def test_source_tree_last(monkeypatch, tmp_path):
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    monkeypatch.setattr(sys, 'prefix', str(tmp_path))
    assert find_interface_dir() == SRC_MSG_DIR


def test_error_names_every_place_looked(monkeypatch, tmp_path):
    from clopy_data.bag_types import BagError
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    monkeypatch.setattr(sys, 'prefix', str(tmp_path))
    with pytest.raises(BagError) as err:
        find_interface_dir('action')   # the project has no action folder anywhere
    text = str(err.value)
    assert 'ament index' in text
    assert str(tmp_path / 'share' / 'clopy_data' / 'action') in text
    assert str(SRC_MSG_DIR.parent / 'action') in text
