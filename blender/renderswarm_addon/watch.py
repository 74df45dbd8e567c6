"""Watching the node and the scene's job without blocking Blender: one timer
(bpy.app.timers) calls tick() about once a second; each tick makes a few
short loopback requests and returns. The one slow request, publishing
(packing asks Blender for the scene's files), runs on a thread that touches
no Blender data; tick() takes its answer over on the main thread.

Verified frames are written where Blender would write them itself
(scene.render.frame_path), a few per tick, each through a temporary file
renamed into place, so a half-written frame is never seen.
"""

import os
import re
import shutil
import tempfile
import threading
import time

import bpy
import bpy.utils.previews

from .node import Node, NodeError

INTERVAL = 1.0      # seconds between ticks
NODE_EVERY = 5.0    # seconds between refreshes of the node's state
FETCH_PER_TICK = 4  # frames written per tick at most


class NodeInfo:
    """What the panel shows of the node."""

    def __init__(self):
        self.ok = False
        self.message = "looking for the node…"
        self.state = ""
        self.peers = 0
        self.balance = 0.0
        self.checked = 0.0


class JobView:
    """What the panel shows of one scene's job."""

    def __init__(self):
        self.status = None     # the node's JobStatus, as JSON
        self.error = ""        # the last failed request, one line
        self.fetched = set()   # frames written to the output path
        self.outputs = {}      # frame -> files written
        self.thumb_frame = None
        self.thumb_icon = 0
        self.extras = []          # extra outputs of the job ("exr"), fetched beside the frames
        self.extras_done = set()  # frames whose extras were written
        self.extras_at = 0.0      # when extras were last fetched
        self.finished = False     # completed, canceled or failed when last polled
        self.fetched_all = False  # every verified frame was written


node_info = NodeInfo()
jobs = {}          # job ID -> JobView
_publishing = {}   # scene name -> {"thread", "result", "error"}
_previews = None


def node_home():
    """The node home the add-on uses: the preference, else the default."""
    try:
        prefs = bpy.context.preferences.addons[__package__].preferences
        return bpy.path.abspath(prefs.home) if prefs.home else ""
    except (KeyError, AttributeError):
        return ""


def find_node():
    return Node.find(node_home())


def view(job_id):
    v = jobs.get(job_id)
    if v is None:
        v = jobs[job_id] = JobView()
    return v


def refresh_node(force=False):
    now = time.monotonic()
    if not force and now - node_info.checked < NODE_EVERY:
        return
    node_info.checked = now
    try:
        n = find_node()
        act = n.activity()
        net = n.network()
        cr = n.credits()
    except NodeError as e:
        node_info.ok, node_info.message = False, str(e)
        return
    node_info.ok = True
    node_info.message = ""
    node_info.state = act.get("state", "")
    node_info.peers = net.get("peers", 0)
    node_info.balance = cr.get("balance", 0.0)


# Publishing ----------------------------------------------------------------

def start_publish(scene_name, request):
    """Publishes on a thread; tick() stores the job ID in the scene."""
    if publishing(scene_name):
        return
    box = {"result": None, "error": "", "request": request}

    def run():
        try:
            box["result"] = find_node().publish(request)
        except NodeError as e:
            box["error"] = str(e)
        except Exception as e:  # never let the thread die silently
            box["error"] = "publishing failed: %s" % e

    box["thread"] = threading.Thread(target=run, name="renderswarm-publish", daemon=True)
    _publishing[scene_name] = box
    box["thread"].start()
    ensure_timer()


def publishing(scene_name):
    box = _publishing.get(scene_name)
    return box is not None and box["thread"].is_alive()


publish_errors = {}  # scene name -> the last publish error


def _take_published():
    for name, box in list(_publishing.items()):
        if box["thread"].is_alive():
            continue
        del _publishing[name]
        scene = bpy.data.scenes.get(name)
        if box["error"] or scene is None:
            publish_errors[name] = box["error"] or "the scene was removed while publishing"
            continue
        publish_errors.pop(name, None)
        job = box["result"]["id"]
        scene.renderswarm.job_id = job
        v = view(job)
        v.status = box["result"]
        v.extras = list(box["request"].get("outputs", []))


# Watching ------------------------------------------------------------------

def frame_path(scene, frame):
    """Where Blender would write frame of scene, with the verified image's
    extension (.png)."""
    p = scene.render.frame_path(frame=frame)
    root, ext = os.path.splitext(p)
    if ext.lower() != ".png":
        p = root + ".png" if scene.render.use_file_extension or ext else p + ".png"
    return p


def write_atomic(path, data):
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".renderswarm-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _set_thumb(v, n, job, frame):
    global _previews
    data = n.frame_image(job, frame, thumb=True)
    d = os.path.join(tempfile.gettempdir(), "renderswarm-thumbs")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "%s-%d.png" % (job[-16:], frame))
    write_atomic(path, data)
    if _previews is None:
        _previews = bpy.utils.previews.new()
    key = "%s-%d" % (job, frame)
    if key not in _previews:
        _previews.load(key, path, 'IMAGE')
    v.thumb_frame = frame
    v.thumb_icon = _previews[key].icon_id


def watch_scene(scene):
    """Polls the scene's job and writes newly verified frames."""
    job = scene.renderswarm.job_id
    if not job:
        return
    v = view(job)
    if v.status is None and not v.extras and (
            scene.renderswarm.extra_exr
            or scene.render.image_settings.file_format in ('OPEN_EXR', 'OPEN_EXR_MULTILAYER')):
        v.extras = ["exr"]  # a job watched again after reopening the file
    if v.finished and (v.fetched_all or not scene.renderswarm.fetch_frames):
        return
    try:
        n = find_node()
        v.status = n.status(job)
        v.error = ""
        verified = [f["frame"] for f in n.frames(job) if f.get("state") == "verified"]
        todo = [f for f in verified if f not in v.fetched]
        if scene.renderswarm.fetch_frames:
            for f in todo[:FETCH_PER_TICK]:
                path = frame_path(scene, f)
                write_atomic(path, n.frame_image(job, f))
                v.fetched.add(f)
                # Its extras may have been written first, on a slow tick.
                v.outputs[f] = [path] + [o for o in v.outputs.get(f, []) if o != path]
            v.fetched_all = len(todo) <= FETCH_PER_TICK
            if v.extras and len(v.extras_done) < len(verified):
                done = v.status.get("state") == "completed"
                _fetch_extras(scene, v, n, job, force=done)
                v.fetched_all = v.fetched_all and len(v.extras_done) >= len(verified)
        newest = max(verified) if verified else None
        if newest is not None and newest != v.thumb_frame:
            _set_thumb(v, n, job, newest)
        v.finished = v.status.get("state") in ("completed", "canceled", "failed")
    except NodeError as e:
        v.error = str(e)
    except OSError as e:
        v.error = "writing frames: %s" % e


EXTRAS_EVERY = 10.0  # seconds between fetches of extra outputs while rendering


def _fetch_extras(scene, v, n, job, force=False):
    """Writes the extra outputs (OpenEXR) of verified frames beside the
    frames: the node writes them into a staging folder in the output
    folder, from which they are renamed into place."""
    now = time.monotonic()
    if not force and now - v.extras_at < EXTRAS_EVERY:
        return
    v.extras_at = now
    outdir = os.path.dirname(frame_path(scene, scene.frame_start))
    stage = os.path.join(outdir, ".renderswarm-fetch")
    try:
        res = n.fetch(job, stage)
        for f in res.get("written") or []:
            m = re.match(r"^frame_(\d+)\.(\w+)$", os.path.basename(f))
            if not m or m.group(2).lower() == "png":
                continue
            frame, ext = int(m.group(1)), m.group(2)
            if frame in v.extras_done:
                continue
            dst = os.path.splitext(frame_path(scene, frame))[0] + "." + ext
            os.replace(f, dst)
            v.outputs.setdefault(frame, []).append(dst)
            v.extras_done.add(frame)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def all_fetched(scene):
    """Every frame of the scene's job is verified and written."""
    v = jobs.get(scene.renderswarm.job_id)
    if v is None or v.status is None:
        return False
    st = v.status
    n = _frame_count(scene)
    return (st.get("state") == "completed" and len(v.fetched) >= n
            and (not v.extras or len(v.extras_done) >= n))


def _frame_count(scene):
    return len(range(scene.frame_start, scene.frame_end + 1, max(1, scene.frame_step)))


def tick():
    """One round of watching; returns the seconds until the next."""
    try:
        _take_published()
        refresh_node()
        for scene in bpy.data.scenes:
            watch_scene(scene)
        _redraw()
    except Exception as e:  # a timer that raises is unregistered for good
        node_info.message = "renderswarm: %s" % e
    return INTERVAL


def _redraw():
    wm = getattr(bpy.context, "window_manager", None)
    if wm is None:
        return
    for w in wm.windows:
        for a in w.screen.areas:
            if a.type == 'PROPERTIES':
                a.tag_redraw()


def ensure_timer():
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=0.1, persistent=True)


def stop():
    global _previews
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    if _previews is not None:
        bpy.utils.previews.remove(_previews)
        _previews = None
