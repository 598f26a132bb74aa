"""Import a BVH with Blender's own importer and dump every bone's world head position.

Run with a Python that has ``bpy`` (Blender as a module), not with poselift's venv:

    python blender_bvh_positions.py IN.bvh OUT.npz

The import settings are the ones docs/blender.md tells users to pick (Scale 0.01,
Forward -Z, Up Y, Update Scene FPS and Duration). OUT.npz holds ``names`` (B,) bone
names, ``positions`` (T, B, 3) float64 metres in Blender's world (Z up), one row per
keyed frame (the file's frames, in order), and ``fps`` (the scene's after import).
"""

import sys

import bpy
import numpy as np


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: blender_bvh_positions.py IN.bvh OUT.npz", file=sys.stderr)
        return 2
    src, out = argv
    bpy.ops.wm.read_factory_settings(use_empty=True)
    import addon_utils

    addon_utils.enable("io_anim_bvh", default_set=True)
    res = bpy.ops.import_anim.bvh(filepath=src, global_scale=0.01, axis_forward="-Z", axis_up="Y",
                                  update_scene_fps=True, update_scene_duration=True, rotate_mode="NATIVE")
    if "FINISHED" not in res:
        print(f"{src}: Blender's BVH importer did not finish: {res}", file=sys.stderr)
        return 1
    arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
    scene = bpy.context.scene
    bones = list(arm.pose.bones)
    # The importer keys frames 1..T but only ever extends the scene's range (never shortens
    # it), so the action's own range is the file's frames.
    first, last = (int(round(f)) for f in arm.animation_data.action.frame_range)
    frames = range(first, last + 1)
    pos = np.zeros((len(frames), len(bones), 3))
    for i, f in enumerate(frames):
        scene.frame_set(f)
        mw = arm.matrix_world
        for b, pb in enumerate(bones):
            pos[i, b] = tuple(mw @ pb.head)
    np.savez(out, names=np.array([b.name for b in bones]), positions=pos,
             fps=np.float64(scene.render.fps / scene.render.fps_base))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
