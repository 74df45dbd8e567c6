package blender

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/render/rendertest"
)

// TestSandboxBoundaries runs a shell with the sandbox's mounts: the scene
// directory is read-only, the work directory writable, the rest of the
// scene's parent (standing in for the node's home), /etc beyond the
// loader's files, /opt, the sandbox's root and /tmp invisible or
// read-only, and the only network interface is loopback.
func TestSandboxBoundaries(t *testing.T) {
	requireBlender(t)
	b := New()
	rendertest.RequireSandbox(t, b)
	home := t.TempDir()
	scene := filepath.Join(home, "scene")
	work := filepath.Join(home, "out", "work")
	secret := filepath.Join(home, "secret")
	for _, d := range []string{scene, work} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(secret, []byte("key"), 0o600)
	os.WriteFile(filepath.Join(scene, "s.blend"), []byte("x"), 0o644)
	script := strings.Join([]string{
		"cat " + filepath.Join(scene, "s.blend"),
		"touch " + filepath.Join(scene, "new") + " 2>/dev/null && echo SCENE_WRITABLE",
		"touch " + filepath.Join(work, "ok") + " && echo WORK_WRITABLE",
		"cat " + secret + " 2>/dev/null && echo SECRET_VISIBLE",
		"touch /tmp/x /x 2>/dev/null && echo TMP_WRITABLE",
		"ls /etc/passwd /etc/hostname /etc/ssl 2>/dev/null && echo ETC_VISIBLE",
		"ls -d /opt /home /root /var 2>/dev/null && echo OTHER_VISIBLE",
		"grep -c : /proc/net/dev",
	}, "; ")
	bw, _ := exec.LookPath("bwrap")
	argv := append(sandbox("/bin/sh", runSpec{sceneDir: scene, work: work}).Args(bw), "/bin/sh", "-c", script)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	got := string(out)
	t.Logf("sandboxed shell said:\n%s", got)
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	for _, bad := range []string{"SCENE_WRITABLE", "SECRET_VISIBLE", "TMP_WRITABLE", "ETC_VISIBLE", "OTHER_VISIBLE"} {
		if strings.Contains(got, bad) {
			t.Errorf("sandbox boundaries wrong: %s", bad)
		}
	}
	if !strings.HasPrefix(got, "x") || !strings.Contains(got, "WORK_WRITABLE") || !strings.HasSuffix(strings.TrimSpace(got), "\n1") {
		t.Errorf("sandbox boundaries wrong:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(work, "ok")); err != nil {
		t.Error("the work directory write did not reach the host")
	}
}

// TestSandboxStartRetried: a render whose bubblewrap fails to start once
// ("bwrap: No permissions to create new namespace", as on a loaded
// machine) is run again and succeeds; one whose bubblewrap never starts
// fails with render.ErrSandboxStart.
func TestSandboxStartRetried(t *testing.T) {
	f := getFixtures(t)
	b := New()
	defer b.Close()
	rendertest.RequireSandbox(t, b)
	real, _ := exec.LookPath("bwrap")
	fake, count := filepath.Join(t.TempDir(), "bwrap"), filepath.Join(t.TempDir(), "count")
	script := "#!/bin/sh\nn=$(cat " + count + " 2>/dev/null || echo 0)\necho $((n+1)) > " + count +
		"\nif [ $n -eq 0 ]; then echo 'bwrap: No permissions to create new namespace' >&2; exit 1; fi\nexec " + real + ` "$@"` + "\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	b.bwrap = fake
	task := render.Task{SceneDir: filepath.Join(f.dir, "scene"), SceneFile: "anim.blend", Frame: 2,
		Width: 16, Height: 12, Samples: 1, OutputDir: t.TempDir()}
	if _, err := b.Render(t.Context(), task, nil); err != nil {
		t.Fatalf("a render whose sandbox failed to start once: %v", err)
	}
	if data, _ := os.ReadFile(count); strings.TrimSpace(string(data)) != "2" {
		t.Errorf("bwrap ran %s times, want 2", data)
	}

	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b = New() // no Blender kept running from the render above
	defer b.Close()
	b.Sandboxed()
	b.bwrap = fake
	task.OutputDir = t.TempDir()
	if _, err := b.Render(t.Context(), task, nil); !errors.Is(err, render.ErrSandboxStart) {
		t.Fatalf("a sandbox that never starts: %v, want ErrSandboxStart", err)
	}
}
