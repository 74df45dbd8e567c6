"""The local renderswarm node, as the add-on reaches it: the home's api file
(URL and token of the running node) and its HTTP API. Plain Python, no bpy,
so it runs (and is tested) outside Blender too.

The node answers only on loopback and only with its token; the token is read
from the api file, which only the user can read. Nothing here speaks any
protocol other than that API.
"""

import json
import os
import sys
import urllib.error
import urllib.request

API_FILE = "api"


class NodeError(Exception):
    """A one-line reason the node could not be reached or refused a request."""


def default_home(environ=None, platform=None, user_home=None):
    """The node's home as renderswarm resolves it without --home:
    $RENDERSWARM_HOME, else the per-user data directory of the system."""
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    if env.get("RENDERSWARM_HOME"):
        return os.path.abspath(env["RENDERSWARM_HOME"])
    home = os.path.expanduser("~") if user_home is None else user_home
    if plat.startswith("win"):
        if env.get("LOCALAPPDATA"):
            return os.path.join(env["LOCALAPPDATA"], "renderswarm")
        return os.path.join(home, "AppData", "Local", "renderswarm")
    if plat == "darwin":
        return os.path.join(home, "Library", "Application Support", "renderswarm")
    if env.get("XDG_DATA_HOME"):
        return os.path.join(env["XDG_DATA_HOME"], "renderswarm")
    return os.path.join(home, ".local", "share", "renderswarm")


class Node:
    """A client of one running node's API."""

    def __init__(self, url, token, home=""):
        self.url = url.rstrip("/")
        self.token = token
        self.home = home

    @classmethod
    def find(cls, home=""):
        """The node running on home (default: default_home()), or NodeError
        saying why there is none."""
        home = home or default_home()
        path = os.path.join(home, API_FILE)
        try:
            with open(path, encoding="utf-8") as f:
                ep = json.load(f)
        except FileNotFoundError:
            raise NodeError("no renderswarm node is running on %s (start one with `renderswarm node`)" % home)
        except (OSError, ValueError) as e:
            raise NodeError("cannot read the node's api file %s: %s" % (path, e))
        if not isinstance(ep, dict) or not ep.get("url") or not ep.get("token"):
            raise NodeError("the node's api file %s is damaged" % path)
        return cls(ep["url"], ep["token"], home)

    def request(self, method, path, body=None, timeout=5.0, raw=False):
        """Calls the API; returns decoded JSON (or bytes with raw=True)."""
        data = None
        headers = {"Authorization": "Bearer " + self.token}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                b = resp.read()
        except urllib.error.HTTPError as e:
            msg = ""
            try:
                msg = json.loads(e.read().decode("utf-8")).get("error", "")
            except Exception:
                pass
            raise NodeError(msg or "the node answered %d %s" % (e.code, e.reason))
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise NodeError("the node at %s does not answer (%s); is `renderswarm node` running?" % (self.url, reason))
        if raw:
            return b
        return json.loads(b.decode("utf-8")) if b else None

    # The calls the add-on makes, one per API endpoint it uses.

    def identity(self):
        return self.request("GET", "/api/id")

    def activity(self):
        return self.request("GET", "/api/activity")

    def network(self):
        return self.request("GET", "/api/network")

    def credits(self):
        return self.request("GET", "/api/credits?limit=1")

    def publish(self, req):
        # Packing asks Blender for the scene's files and shares them: allow
        # minutes, the caller runs this off Blender's main thread.
        return self.request("POST", "/api/jobs", req, timeout=600)

    def status(self, job):
        return self.request("GET", "/api/jobs/" + job)

    def frames(self, job):
        return self.request("GET", "/api/jobs/%s/frames" % job)

    def frame_image(self, job, frame, thumb=False):
        return self.request("GET", "/api/jobs/%s/frames/%d%s" % (job, frame, "/thumb" if thumb else ""),
                            timeout=30, raw=True)

    def fetch(self, job, out):
        """Has the node write the job's verified frames, and their extra
        outputs, under out (a folder on this machine)."""
        return self.request("POST", "/api/jobs/%s/fetch" % job, {"out": out}, timeout=120)

    def control(self, job, action):
        if action not in ("pause", "resume", "cancel"):
            raise ValueError(action)
        return self.request("POST", "/api/jobs/%s/%s" % (job, action), {})
