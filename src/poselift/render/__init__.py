"""poselift.render: visualisation videos of reconstructions (OpenCV drawing, PyAV encoding).

Main entry point: :func:`render_video`.
"""

from poselift.render.skeleton_video import RenderStats, display_points, render_video, select_frames

__all__ = ["RenderStats", "display_points", "render_video", "select_frames"]
