"""poselift.render: visualisation videos of reconstructions (OpenCV drawing, PyAV encoding).

Main entry point: :func:`render_video`.
"""

from poselift.render.skeleton_video import RenderStats, render_video, select_frames

__all__ = ["RenderStats", "render_video", "select_frames"]
