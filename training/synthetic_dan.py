"""Old home of the synthetic world's Dual Attention Network labels, now ``training.synthetic.dan``; kept so
that ``from training.synthetic_dan import ...`` keeps working.
"""

from __future__ import annotations

from .synthetic.dan import (
    DAN_ACTIONS,
    NULL_OBJECT,
    TWO_OBJECT_ACTIONS,
    Box,
    ClipRecord,
    TwoObjectAction,
    grip_verb,
    hand_box_px,
    object_box_px,
    readme_lines,
    render_two_object_clip,
    two_object_entries,
)

__all__ = [
    "Box",
    "TwoObjectAction",
    "TWO_OBJECT_ACTIONS",
    "DAN_ACTIONS",
    "NULL_OBJECT",
    "grip_verb",
    "object_box_px",
    "hand_box_px",
    "ClipRecord",
    "render_two_object_clip",
    "two_object_entries",
    "readme_lines",
]
