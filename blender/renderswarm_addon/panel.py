"""The renderswarm panel in the Render properties."""

import os

import bpy

from . import ops, watch


def _eta(seconds):
    if not seconds:
        return ""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return " · about %dh%02dm left" % (h, m) if h else " · about %dm%02ds left" % (m, s)


def draw(layout, context):
    """Draws the panel into layout (a UILayout, or RecordingLayout in
    tests). Reads only what the watcher already has: no request is made
    while drawing."""
    scene = context.scene
    st = scene.renderswarm
    info = watch.node_info

    box = layout.box()
    if info.ok:
        box.label(text="Node: %s · %d peers" % (info.state or "running", info.peers), icon='WORLD')
        box.label(text="Credits: %.1f CU" % info.balance, icon='FUND')
    else:
        col = box.column()
        col.alert = True
        col.label(text="No renderswarm node found", icon='ERROR')
        for line in _wrap(info.message, 60):
            col.label(text=line)
        box.operator("renderswarm.refresh", icon='FILE_REFRESH')

    col = layout.column()
    col.prop(st, "replicas")
    col.prop(st, "tiles")
    col.prop(st, "project_root")
    col.prop(st, "extra_exr")
    col.prop(st, "fetch_frames")
    _draw_formats(layout, scene)

    row = layout.row()
    row.scale_y = 1.4
    row.enabled = info.ok
    if watch.publishing(scene.name):
        row.enabled = False
        row.operator("renderswarm.publish", text="Publishing…", icon='SORTTIME')
    else:
        row.operator("renderswarm.publish", icon='EXPORT')
    err = watch.publish_errors.get(scene.name)
    if err:
        col = layout.column()
        col.alert = True
        for line in _wrap(err, 60):
            col.label(text=line)

    if st.job_id:
        _draw_job(layout, scene, st.job_id)


def _draw_formats(layout, scene):
    """Says which files are verified pixel by pixel and which ride along."""
    col = layout.column(align=True)
    col.label(text="Verified pixel by pixel: 8-bit PNG", icon='CHECKMARK')
    if ops.extra_outputs(scene):
        col.label(text="Rides along, not verified pixel by pixel: OpenEXR", icon='INFO')


def _draw_job(layout, scene, job):
    v = watch.jobs.get(job)
    box = layout.box()
    box.label(text="Job %s…%s" % (job[:8], job[-6:]), icon='RENDER_ANIMATION')
    if v is None or v.status is None:
        box.label(text="waiting for the node…")
        return
    s = v.status
    fr = s.get("frames", {})
    total = fr.get("total", 0) or 1
    done = fr.get("verified", 0)
    box.label(text="%s · %d of %d verified · %d rendering%s" % (
        s.get("state", "?"), done, fr.get("total", 0), fr.get("rendering", 0), _eta(s.get("eta_seconds"))))
    bar = box.row()
    bar.label(text="[" + "#" * (20 * done // total) + "-" * (20 - 20 * done // total) + "]")
    if fr.get("failed"):
        box.label(text="%d failed" % fr["failed"], icon='ERROR')
    if v.thumb_icon:
        box.template_icon(icon_value=v.thumb_icon, scale=6.0)
        box.label(text="latest verified: frame %d" % v.thumb_frame)
    if v.fetched:
        box.label(text="%d frames written to %s" % (
            len(v.fetched), os.path.dirname(watch.frame_path(scene, max(v.fetched)))), icon='FILE_FOLDER')
    if v.error:
        col = box.column()
        col.alert = True
        for line in _wrap(v.error, 60):
            col.label(text=line)
    row = box.row(align=True)
    state = s.get("state")
    if state == "paused":
        row.operator("renderswarm.control", text="Resume", icon='PLAY').action = 'resume'
    elif state in ("queued", "running"):
        row.operator("renderswarm.control", text="Pause", icon='PAUSE').action = 'pause'
    if state in ("queued", "running", "paused"):
        row.operator("renderswarm.control", text="Cancel", icon='CANCEL').action = 'cancel'
    row.operator("renderswarm.forget", text="Forget", icon='X')


def _wrap(text, width):
    words, lines, cur = (text or "").split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = (cur + " " + w).strip()
    if cur:
        lines.append(cur)
    return lines


class RENDERSWARM_PT_render(bpy.types.Panel):
    bl_label = "renderswarm"
    bl_space_type = 'PROPERTIES'
    bl_region_type = 'WINDOW'
    bl_context = "render"

    def draw(self, context):
        draw(self.layout, context)


class RecordingLayout:
    """A stand-in for UILayout that records what draw() asks for and checks
    it the way Blender would: properties exist on their data, operators are
    registered and their properties exist, icons are known. Background mode
    draws no panels, so this is how the draw code runs there."""

    def __init__(self, context, depth=0, root=None):
        self.context = context
        self.depth = depth
        self.root = root or self
        if root is None:
            self.lines, self.problems = [], []
            self.icons = set(bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys())
        self.enabled = self.alert = self.active = True
        self.scale_x = self.scale_y = 1.0

    def _add(self, what, icon='NONE'):
        self.root.lines.append("  " * self.depth + what)
        if icon not in self.root.icons:
            self.root.problems.append("unknown icon %r for %s" % (icon, what))

    def _sub(self, kind):
        self._add(kind)
        return RecordingLayout(self.context, self.depth + 1, self.root)

    def row(self, align=False, heading=""):
        return self._sub("row")

    def column(self, align=False, heading=""):
        return self._sub("column")

    def box(self):
        return self._sub("box")

    def split(self, factor=0.0, align=False):
        return self._sub("split")

    def separator(self, factor=1.0):
        self._add("separator")

    def label(self, text="", icon='NONE'):
        if not isinstance(text, str):
            self.root.problems.append("label text %r is not a string" % (text,))
        self._add("label %r" % text, icon)

    def prop(self, data, property, text=None, icon='NONE', **kw):
        if property not in data.bl_rna.properties:
            self.root.problems.append("%s has no property %r" % (data.bl_rna.identifier, property))
        self._add("prop %s.%s = %r" % (data.bl_rna.identifier, property, getattr(data, property, None)), icon)

    def operator(self, idname, text=None, icon='NONE', **kw):
        mod, _, name = idname.partition(".")
        try:
            rna = getattr(getattr(bpy.ops, mod), name).get_rna_type()
        except (AttributeError, KeyError):
            self.root.problems.append("operator %s is not registered" % idname)
            rna = None
        self._add("operator %s %r" % (idname, text), icon)
        return _OperatorProps(self.root, idname, rna)

    def template_icon(self, icon_value=0, scale=1.0):
        if not isinstance(icon_value, int):
            self.root.problems.append("template_icon value %r is not an int" % (icon_value,))
        self._add("icon %d" % icon_value)


class _OperatorProps:
    def __init__(self, root, idname, rna):
        object.__setattr__(self, "_root", root)
        object.__setattr__(self, "_idname", idname)
        object.__setattr__(self, "_rna", rna)

    def __setattr__(self, name, value):
        rna = self._rna
        if rna is None:
            return
        p = rna.properties.get(name)
        if p is None:
            self._root.problems.append("operator %s has no property %r" % (self._idname, name))
        elif p.type == 'ENUM' and value not in p.enum_items.keys():
            self._root.problems.append("operator %s: %r is not one of %s" % (self._idname, value, list(p.enum_items.keys())))


classes = [RENDERSWARM_PT_render]
