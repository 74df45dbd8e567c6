"""renderswarm for Blender: publish the current scene to the volunteer render
grid from the Render properties, watch it render, and get the verified frames
where Blender would have written them.

The add-on talks only to the renderswarm node running on this machine,
through its local HTTP API and the token in the node's home (the same way
the `renderswarm` command does). Install it with `renderswarm blender
install-addon`, or as a zip through Edit > Preferences > Add-ons > Install.
"""

bl_info = {
    "name": "renderswarm",
    "author": "renderswarm",
    "version": (0, 1, 0),
    "blender": (3, 0, 0),
    "location": "Properties > Render > renderswarm",
    "description": "Render on the renderswarm volunteer grid: publish, watch, fetch verified frames",
    "category": "Render",
}

if "bpy" in locals():
    import importlib
    for _m in (node, watch, props, ops, panel):  # noqa: F821 (reload in Blender)
        importlib.reload(_m)
else:
    from . import node, watch, props, ops, panel

import bpy

_classes = props.classes + ops.classes + panel.classes


def register():
    for c in _classes:
        bpy.utils.register_class(c)
    bpy.types.Scene.renderswarm = bpy.props.PointerProperty(type=props.SceneSettings)
    watch.ensure_timer()


def unregister():
    watch.stop()
    del bpy.types.Scene.renderswarm
    for c in reversed(_classes):
        bpy.utils.unregister_class(c)
