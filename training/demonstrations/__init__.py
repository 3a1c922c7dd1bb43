"""Demonstrations in recordings: teach the model your objects from a person using them in front of the robot.

* ``scene``: a synthetic demonstration scene (the synthetic world's objects on a table, a drawn hand using
  them) recorded as a rosbag2 MCAP file with its ground truth (``scene.py``, ``bag.py``);
* ``find``: every interaction in a recording, by the node's own definition (``hotspot_core.interactions``),
  with the object at rest, the clip, hand boxes, a labels.csv template and a contact sheet (``find.py``);
* ``score`` / ``evaluate``: recall and precision of ``find`` against a scene's ground truth (``score.py``).

Command line: ``python -m training.demonstrations`` (``cli.py``); docs: ``docs/demonstrations.md``.
"""
