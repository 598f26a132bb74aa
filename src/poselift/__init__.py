"""poselift: lift 2D keypoint sequences from any video to smooth 3D skeletons.

Stages (data flows one way): ``io`` -> ``detect`` -> ``lift`` -> ``export``/``render``;
``data``, ``train`` and ``evaluate`` sit beside them and ``cli`` on top. Geometry
(skeletons, cameras, metrics) lives in :mod:`poselift.geometry`.
"""

__version__ = "0.1.0"
