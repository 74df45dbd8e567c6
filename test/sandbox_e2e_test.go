package test

import (
	"encoding/json"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/render/rendertest"
)

// brokenBwrap fails the way bubblewrap does where user namespaces are not
// allowed (many containers, distributions that restrict them).
const brokenBwrap = `#!/bin/sh
echo 'bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.' >&2
exit 1
`

// brokenSandboxEnv is an environment whose PATH finds brokenBwrap first.
func brokenSandboxEnv(t *testing.T) []string {
	t.Helper()
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "bwrap"), brokenBwrap)
	if err := os.Chmod(filepath.Join(bin, "bwrap"), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
}

// sandboxState is `id --json`'s "sandbox".
type sandboxState struct {
	Working          bool              `json:"working"`
	Problem          string            `json:"problem"`
	Renderers        map[string]string `json:"renderers"`
	AllowUnsandboxed bool              `json:"allow_unsandboxed"`
}

func sandboxOf(t *testing.T, p *proc) sandboxState {
	t.Helper()
	var id struct {
		Sandbox *sandboxState `json:"sandbox"`
	}
	out := mustRun(t, p.home, 20*time.Second, "id", "--json")
	if err := json.Unmarshal([]byte(out), &id); err != nil {
		t.Fatalf("id --json printed %q: %v", out, err)
	}
	if id.Sandbox == nil {
		t.Fatalf("id --json has no \"sandbox\": %s", out)
	}
	return *id.Sandbox
}

// waitSeen waits (bounded) until p lists job id among the jobs it has
// seen announced, so it could have asked for its work.
func waitSeen(t *testing.T, p *proc, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(mustRun(t, p.home, 20*time.Second, "jobs", "--json"), id) {
		if time.Now().After(deadline) {
			t.Fatalf("node %s did not see job %s announced within 30s", p.id, id)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A volunteer whose bubblewrap is broken (a bwrap first on its PATH that
// fails) never renders a stranger's POV-Ray or Blender scene: it is never
// leased one and delivers nothing, though it saw both jobs. Two volunteers
// with the same broken bubblewrap started with --allow-unsandboxed render
// both jobs to completion. `id --json` tells the three apart.
func TestUnsandboxedVolunteerRefusesStrangersScenes(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	requireRenderer(t, "povray")
	requireRenderer(t, "blender")
	env := brokenSandboxEnv(t)
	pov := povScene(t, t.TempDir())
	blend := makeBlend(t, t.TempDir(), false, "")

	pub := startNode(t, "", "--no-volunteer")
	refusing := startNodeEnv(t, "", env, "--bootstrap", pub.tcpAddr(), "--cpus", "1")
	allowed := []*proc{
		startNodeEnv(t, "", env, "--bootstrap", pub.tcpAddr(), "--cpus", "1", "--allow-unsandboxed"),
		startNodeEnv(t, "", env, "--bootstrap", pub.tcpAddr(), "--cpus", "1", "--allow-unsandboxed"),
	}
	waitVolunteers(t, pub, 2, "povray")

	for _, c := range []struct {
		scene string
		args  []string
	}{
		{pov, []string{"--renderer", "povray", "--frames", "1-3", "--resolution", "48x27", "--samples", "1"}},
		{blend, []string{"--renderer", "blender", "--frames", "1-2"}},
	} {
		start := time.Now()
		id := publishScene(t, pub.home, c.scene, c.args...)
		waitSeen(t, refusing, id)
		st := waitCompleted(t, pub.home, id, start, 4*time.Minute)
		t.Logf("%s: %+v", c.args[1], st.Frames)
	}
	for _, l := range strings.Split(pub.log.String(), "\n") {
		if strings.Contains(l, "msg=leased") && strings.Contains(l, "peer="+refusing.id) {
			t.Errorf("the volunteer without a working sandbox was leased a stranger's task: %s", l[strings.Index(l, "msg="):])
		}
	}
	if n := strings.Count(refusing.log.String(), "msg=taskDelivered"); n != 0 {
		t.Errorf("the volunteer without a working sandbox delivered %d renders", n)
	}
	for _, p := range allowed {
		if n := strings.Count(p.log.String(), "msg=taskDelivered"); n == 0 {
			t.Errorf("volunteer %s, started with --allow-unsandboxed, delivered nothing", p.id)
		}
	}

	sb := sandboxOf(t, refusing)
	t.Logf("sandbox of the refusing volunteer: %+v", sb)
	if sb.Working || sb.AllowUnsandboxed || sb.Problem == "" ||
		!strings.Contains(sb.Renderers["povray"], "bubblewrap") || !strings.Contains(sb.Renderers["blender"], "bubblewrap") {
		t.Errorf("id --json of the volunteer with a broken bubblewrap: sandbox %+v, want not working, per renderer why", sb)
	}
	if sb := sandboxOf(t, allowed[0]); sb.Working || !sb.AllowUnsandboxed {
		t.Errorf("id --json of a volunteer started with --allow-unsandboxed: sandbox %+v, want not working but allowed", sb)
	}
	if sb := sandboxOf(t, pub); !sb.Working || sb.Renderers["povray"] != "working" || sb.Renderers["blender"] != "working" {
		t.Errorf("id --json of a node with a working bubblewrap: sandbox %+v, want working", sb)
	}
	if out := mustRun(t, refusing.home, 20*time.Second, "id"); !strings.Contains(out, "sandbox: not working (blender: bubblewrap") ||
		!strings.Contains(out, "strangers' scenes are not rendered with blender or povray") {
		t.Errorf("renderswarm id of the volunteer with a broken bubblewrap says:\n%s", out)
	}
	var peers []struct {
		PeerID    string   `json:"peer_id"`
		Renderers []string `json:"renderers"`
	}
	json.Unmarshal([]byte(mustRun(t, pub.home, 20*time.Second, "peers", "--json")), &peers)
	for _, p := range peers {
		if p.PeerID == refusing.id && (len(p.Renderers) != 1 || !strings.HasPrefix(p.Renderers[0], "builtin ")) {
			t.Errorf("the volunteer with a broken bubblewrap advertises %v, want builtin only", p.Renderers)
		}
	}
	refusing.waitLogged(time.Second, "msg=strangersScenesRefused", "renderer=povray")
	allowed[0].waitLogged(time.Second, "msg=renderingUnsandboxed", "renderer=blender")
}

// A file outside a scene folder, reached through a symlink inside it (a
// dependency, a dependency's directory, or the main file itself), never
// reaches any node: publish refuses in one line naming the file, for every
// renderer, and no node's home holds the file's bytes.
func TestSymlinkOutsideSceneNeverShared(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	skipIfShort(t)
	outside := t.TempDir()
	secret := func(name, content string) string {
		p := filepath.Join(outside, name)
		writeFile(t, p, content)
		return p
	}
	link := func(target, at string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove(at)
		if err := os.Symlink(target, at); err != nil {
			t.Fatal(err)
		}
	}
	var secrets [][]byte
	keep := func(p string) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, b)
	}
	type tc struct {
		name, renderer, scene, shown string
	}
	var cases []tc

	// builtin: the mesh is a symlink to a file outside.
	{
		dir := t.TempDir()
		mesh, err := os.ReadFile("../render/builtin/testdata/meshes/tetra.obj")
		if err != nil {
			t.Fatal(err)
		}
		p := secret("builtin-secret.obj", string(mesh)+"# builtin-outside-secret-7f3a\n")
		keep(p)
		link(p, filepath.Join(dir, "meshes", "tetra.obj"))
		writeFile(t, filepath.Join(dir, "s.scene"), "renderswarm-scene 1\nsettings frames=1-1 resolution=16x12 samples=1\n"+
			"camera pos=0,1,4 look=0,0,0 fov=45\nmaterial name=m type=diffuse color=0.8,0.8,0.8\n"+
			"mesh file=meshes/tetra.obj material=m\nlight pos=0,2,1 radius=0.2 strength=15\n")
		cases = append(cases, tc{"builtin mesh", "builtin", filepath.Join(dir, "s.scene"), "meshes/tetra.obj"})
	}
	// povray: an #include that is a symlink, and an image map in a
	// symlinked directory.
	if hasRenderer(t, "povray") {
		dir := t.TempDir()
		scene := povScene(t, dir)
		p := secret("colors.inc", "#declare SwarmRed = rgb <0.9, 0.1, 0.1>; #declare White = rgb 1; // povray-outside-secret-19c2\n")
		keep(p)
		link(p, filepath.Join(dir, "inc", "colors.inc"))
		cases = append(cases, tc{"povray include", "povray", scene, "inc/colors.inc"})

		dir2 := t.TempDir()
		scene2 := povScene(t, dir2)
		maps := filepath.Join(outside, "maps")
		uniqueChecker(t, filepath.Join(maps, "checker.png"), 1)
		keep(filepath.Join(maps, "checker.png"))
		os.RemoveAll(filepath.Join(dir2, "maps"))
		link(maps, filepath.Join(dir2, "maps"))
		cases = append(cases, tc{"povray image map in a linked directory", "povray", scene2, "maps/checker.png"})

		dir3 := t.TempDir()
		scene3 := povScene(t, dir3)
		mainOut := filepath.Join(outside, "main.pov")
		writeFile(t, mainOut, strings.Replace(mustRead(t, scene3), "#version 3.7;", "#version 3.7; // povray-main-secret-5be1", 1))
		keep(mainOut)
		link(mainOut, scene3)
		cases = append(cases, tc{"povray main file", "povray", filepath.Join(dir3, "scene.pov"), "scene.pov"})
	}
	// blender: the texture is a symlink to a file outside.
	if hasRenderer(t, "blender") {
		dir := t.TempDir()
		blend := makeBlend(t, dir, false, "")
		tex := filepath.Join(dir, "textures", "checker.png")
		p := filepath.Join(outside, "blender-checker.png")
		uniqueChecker(t, p, 2)
		keep(p)
		link(p, tex)
		cases = append(cases, tc{"blender texture", "blender", blend, "textures/checker.png"})
	}

	pub, vs := swarm(t, 1)
	for _, c := range cases {
		r := run(t, pub.home, 2*time.Minute, "publish", c.scene, "--renderer", c.renderer, "--frames", "1", "--resolution", "16x12")
		msg := strings.TrimSpace(r.stderr)
		t.Logf("%s: exit %d: %s", c.name, r.code, msg)
		if r.code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, c.shown) {
			t.Errorf("%s: publish exited %d with %q; want exit 1 and one line naming %s", c.name, r.code, msg, c.shown)
		}
	}
	for _, p := range append(vs, pub) {
		filepath.WalkDir(p.home, func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			for i, s := range secrets {
				if strings.Contains(string(b), string(s)) {
					t.Errorf("node %s holds outside file %d in %s", p.id, i, path)
				}
			}
			return nil
		})
	}
}

// hasRenderer reports whether a renderer program is installed; under
// RENDERSWARM_REQUIRE_RENDERERS=1 its absence fails t.
func hasRenderer(t *testing.T, name string) bool {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
			t.Fatalf("%s is required (RENDERSWARM_REQUIRE_RENDERERS=1) but not on PATH", name)
		}
		t.Logf("%s is not installed: its cases are left out", name)
		return false
	}
	return true
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// uniqueChecker writes a checker PNG no other test file has (colours from
// n).
func uniqueChecker(t *testing.T, path string, n uint8) {
	t.Helper()
	if err := rendertest.WriteChecker(path, color.NRGBA{200, 17 + n, 31, 255}, color.NRGBA{9, 99, 200 - n, 255}); err != nil {
		t.Fatal(err)
	}
}
