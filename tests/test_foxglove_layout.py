"""docs/foxglove-layout.json: a Foxglove layout (configById + the mosaic tree, as the app
exports and imports it) whose panels read topics and fields the bridge serves."""
from __future__ import annotations

import json
from pathlib import Path

from rosidl_runtime_py.utilities import get_message

from clopy_data.topics import TOPICS, VIEWER_TOPICS

SERVED = {**TOPICS, **VIEWER_TOPICS}   # what the bridge serves

LAYOUT = Path(__file__).resolve().parents[1] / 'docs' / 'foxglove-layout.json'


def _leaves(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    assert set(node) >= {'first', 'second', 'direction'} and node['direction'] in ('row', 'column'), node
    return _leaves(node['first']) + _leaves(node['second'])


def _field_exists(path: str) -> bool:
    """'/session_status.threshold' -> SessionStatus has a field threshold."""
    topic, _, field = path.partition('.')
    fields = get_message(SERVED[topic.lstrip('/')]).get_fields_and_field_types()
    return not field or field.split('.')[0] in fields


def test_layout_panels_show_served_topics_and_existing_fields():
    layout = json.loads(LAYOUT.read_text())
    panels = layout['configById']
    assert sorted(_leaves(layout['layout'])) == sorted(panels)
    kinds = {key.split('!')[0]: cfg for key, cfg in panels.items()}
    assert set(kinds) == {'Image', 'Plot', 'RawMessages', 'StateTransitions'}
    # the preview (a few frames a second): a viewer adds no reader to image_raw, which the loop waits on
    assert kinds['Image']['imageMode']['imageTopic'] == '/image_preview'
    plotted = [p['value'] for p in kinds['Plot']['paths']]
    assert plotted == ['/control_signal.value', '/session_status.threshold']
    assert kinds['RawMessages']['topicPath'] == '/task_event'
    assert [p['value'] for p in kinds['StateTransitions']['paths']] == ['/session_status.state']
    for path in plotted + ['/image_preview', '/task_event', '/session_status.state']:
        assert path.lstrip('/').split('.')[0] in SERVED and _field_exists(path), path
