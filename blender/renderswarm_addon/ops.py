"""The add-on's operators: publish, job control, and the draw check."""

import os

import bpy

from . import watch
from .node import NodeError


def publish_request(scene, blend_path):
    """The node's PublishRequest for scene as saved in blend_path: the
    scene's frame range (and step), resolution, samples and outputs, the
    panel's replicas, tiles and project folder."""
    r = scene.render
    frames = "%d-%d" % (scene.frame_start, scene.frame_end)
    if scene.frame_step > 1:
        frames += "x%d" % scene.frame_step
    pct = r.resolution_percentage
    req = {
        "scene": blend_path,
        "renderer": "blender",
        "frames": frames,
        "resolution": "%dx%d" % (max(1, r.resolution_x * pct // 100), max(1, r.resolution_y * pct // 100)),
        "replicas": scene.renderswarm.replicas,
        "tiles": scene.renderswarm.tiles,
        "title": "%s · %s" % (os.path.basename(blend_path), scene.name),
    }
    if r.engine == 'CYCLES':
        req["samples"] = scene.cycles.samples
    elif r.engine in ('BLENDER_EEVEE', 'BLENDER_EEVEE_NEXT'):
        req["samples"] = scene.eevee.taa_render_samples
    root = scene.renderswarm.project_root
    if root:
        req["root"] = os.path.normpath(bpy.path.abspath(root))
    outs = extra_outputs(scene)
    if outs:
        req["outputs"] = outs
    return req


def extra_outputs(scene):
    """Files volunteers deliver besides the verified PNG: the scene's own
    output format when it is OpenEXR, or the panel's OpenEXR option."""
    fmt = scene.render.image_settings.file_format
    if scene.renderswarm.extra_exr or fmt in ('OPEN_EXR', 'OPEN_EXR_MULTILAYER'):
        return ["exr"]
    return []


class RENDERSWARM_OT_publish(bpy.types.Operator):
    """Save the .blend and publish this scene to the renderswarm grid"""
    bl_idname = "renderswarm.publish"
    bl_label = "Publish to renderswarm"

    @classmethod
    def poll(cls, context):
        return context.scene is not None and not watch.publishing(context.scene.name)

    def invoke(self, context, event):
        if not bpy.data.filepath:
            self.report({'ERROR'}, "Save the .blend first (File > Save As): renderswarm publishes the saved file")
            return {'CANCELLED'}
        if bpy.data.is_dirty:
            return context.window_manager.invoke_confirm(self, event)
        return self.execute(context)

    def execute(self, context):
        if not bpy.data.filepath:
            self.report({'ERROR'}, "Save the .blend first: renderswarm publishes the saved file")
            return {'CANCELLED'}
        scene = context.scene
        try:
            watch.find_node()
        except NodeError as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        if bpy.data.is_dirty:
            bpy.ops.wm.save_mainfile()
        watch.publish_errors.pop(scene.name, None)
        watch.start_publish(scene.name, publish_request(scene, bpy.data.filepath))
        self.report({'INFO'}, "Publishing %s…" % os.path.basename(bpy.data.filepath))
        return {'FINISHED'}


class RENDERSWARM_OT_control(bpy.types.Operator):
    """Pause, resume or cancel this scene's renderswarm job"""
    bl_idname = "renderswarm.control"
    bl_label = "Job Control"

    action: bpy.props.EnumProperty(items=[
        ('pause', "Pause", "Stop handing out frames; frames rendering finish"),
        ('resume', "Resume", "Hand out frames again"),
        ('cancel', "Cancel", "Stop the job for good; verified frames stay"),
    ])

    @classmethod
    def poll(cls, context):
        return context.scene is not None and bool(context.scene.renderswarm.job_id)

    def execute(self, context):
        job = context.scene.renderswarm.job_id
        try:
            n = watch.find_node()
            n.control(job, self.action)
            watch.view(job).status = n.status(job)
        except NodeError as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        watch.view(job).finished = False
        return {'FINISHED'}


class RENDERSWARM_OT_forget(bpy.types.Operator):
    """Stop watching this scene's job (it keeps rendering on the grid)"""
    bl_idname = "renderswarm.forget"
    bl_label = "Forget Job"

    def execute(self, context):
        context.scene.renderswarm.job_id = ""
        return {'FINISHED'}


class RENDERSWARM_OT_refresh(bpy.types.Operator):
    """Look for the node again now"""
    bl_idname = "renderswarm.refresh"
    bl_label = "Refresh"

    def execute(self, context):
        watch.refresh_node(force=True)
        watch.ensure_timer()
        return {'FINISHED'}


class RENDERSWARM_OT_check_draw(bpy.types.Operator):
    """Run the panel's draw code against a recording layout (works in
    background mode, where no window draws panels)"""
    bl_idname = "renderswarm.check_draw"
    bl_label = "Check Panel Drawing"

    def execute(self, context):
        from . import panel
        rec = panel.RecordingLayout(context)
        panel.draw(rec, context)
        for line in rec.lines:
            print("renderswarm panel:", line)
        if rec.problems:
            for p in rec.problems:
                self.report({'ERROR'}, p)
            return {'CANCELLED'}
        self.report({'INFO'}, "panel drew %d items" % len(rec.lines))
        return {'FINISHED'}


classes = [RENDERSWARM_OT_publish, RENDERSWARM_OT_control, RENDERSWARM_OT_forget,
           RENDERSWARM_OT_refresh, RENDERSWARM_OT_check_draw]
