"""The add-on's settings: per scene (saved in the .blend, so a reopened file
keeps watching its job) and the add-on's preferences."""

import bpy


class SceneSettings(bpy.types.PropertyGroup):
    job_id: bpy.props.StringProperty(
        name="Job", description="The renderswarm job published from this scene")
    replicas: bpy.props.IntProperty(
        name="Replicas", default=1, min=1, max=5,
        description="Volunteers rendering each frame independently; more replicas check more but cost more")
    tiles: bpy.props.IntProperty(
        name="Tiles", default=1, min=1, max=64,
        description="Split each frame into this many tiles rendered by different volunteers (for stills)")
    project_root: bpy.props.StringProperty(
        name="Project Folder", subtype='DIR_PATH', default="",
        description="Everything the scene uses inside this folder is packed with its layout kept "
                    "(linked libraries, textures, caches); empty means the .blend's folder")
    fetch_frames: bpy.props.BoolProperty(
        name="Fetch Frames", default=True,
        description="Write verified frames to the scene's output path as they are verified")
    extra_exr: bpy.props.BoolProperty(
        name="Also OpenEXR", default=False,
        description="Volunteers also deliver each frame as a half-float OpenEXR, next to the verified PNG")


class Preferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    home: bpy.props.StringProperty(
        name="Node Home", subtype='DIR_PATH', default="",
        description="The renderswarm node's home folder; empty means $RENDERSWARM_HOME or the default home")

    def draw(self, context):
        self.layout.prop(self, "home")


classes = [SceneSettings, Preferences]
