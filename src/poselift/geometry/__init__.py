"""Geometry shared by every stage: skeleton layouts, cameras and error metrics."""

from poselift.geometry.cameras import (Camera, camera_to_world, h36m_cameras, image_coordinates,
                                       normalize_screen_coordinates, project_to_2d,
                                       project_to_2d_linear, qrot, world_to_camera)
from poselift.geometry.skeletons import (BLAZEPOSE33, COCO17, H36M17, H36M32, HUMANEVA15, Skeleton,
                                         convert, get_skeleton)

__all__ = ["Camera", "camera_to_world", "h36m_cameras", "image_coordinates", "normalize_screen_coordinates",
           "project_to_2d", "project_to_2d_linear", "qrot", "world_to_camera", "BLAZEPOSE33", "COCO17",
           "H36M17", "H36M32", "HUMANEVA15", "Skeleton", "convert", "get_skeleton"]
