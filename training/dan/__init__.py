"""Training and evaluation of the Dual Attention Network (the offline side of ``hotspot_core.dan``).

``config`` (``DanTrainConfig`` and the CLI flags), ``data`` (worlds, frame sampling, feature cache), ``train``
(``python -m training.dan.train``), ``evaluate`` (``python -m training.dan.evaluate``: the paper's Tables 1 and
4). The worlds it trains on come from ``python -m training.synthetic --dan-labels`` (``training.synthetic.dan``).
"""
