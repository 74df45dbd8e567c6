package blender

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/node"
)

// The zip holds the package as one top-level folder, as Blender's add-on
// installer wants it, with bl_info in its __init__.py.
func TestZipHasOnePackageFolder(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteZip(&buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var init bool
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, Module+"/") || strings.Count(f.Name, "/") != 1 {
			t.Errorf("zip entry %s is not a file of the %s folder", f.Name, Module)
		}
		if f.Name == Module+"/__init__.py" {
			r, _ := f.Open()
			var b bytes.Buffer
			b.ReadFrom(r)
			init = strings.Contains(b.String(), "bl_info = {")
		}
	}
	if !init {
		t.Error("no __init__.py with bl_info in the zip")
	}
}

// Installing over an older copy leaves only the new files: a stale module
// left beside them could still be imported.
func TestInstallReplacesAnOlderCopy(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, Module, "stale.py")
	os.MkdirAll(filepath.Dir(stale), 0o755)
	os.WriteFile(stale, []byte("raise SystemExit"), 0o644)
	got, err := Install(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(dir, Module) {
		t.Errorf("installed in %s, want %s", got, filepath.Join(dir, Module))
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("the old copy's stale.py survived the install")
	}
	if _, err := os.Stat(filepath.Join(got, "__init__.py")); err != nil {
		t.Error(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the add-on folder holds %d entries after install, want 1", len(entries))
	}
}

// The add-on finds the node's home as the CLI does (node.DefaultHome, and
// $RENDERSWARM_HOME first), on every system.
func TestAddonFindsTheHomeLikeTheCLI(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	dir := t.TempDir()
	if _, err := Install(dir); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		goos, platform string
		env            map[string]string
	}{
		{"linux", "linux", map[string]string{}},
		{"linux", "linux", map[string]string{"XDG_DATA_HOME": "/x/data"}},
		{"darwin", "darwin", map[string]string{}},
		{"windows", "win32", map[string]string{"LOCALAPPDATA": `C:\Users\u\AppData\Local`}},
	} {
		want, err := node.DefaultHome(tc.goos, func(k string) string { return tc.env[k] }, "/home/u")
		if err != nil {
			t.Fatal(err)
		}
		env, _ := json.Marshal(tc.env)
		script := fmt.Sprintf(`import json, sys; sys.path.insert(0, %q); import importlib.util as u
spec = u.spec_from_file_location("node", %q); m = u.module_from_spec(spec); spec.loader.exec_module(m)
print(m.default_home(json.loads(%q), %q, "/home/u"))`, dir, filepath.Join(dir, Module, "node.py"), env, tc.platform)
		out, err := exec.Command(py, "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		got := strings.TrimSpace(string(out))
		if tc.goos == "windows" {
			got = strings.ReplaceAll(got, "/", `\`) // os.path.join on this system joins with /
			want = strings.ReplaceAll(want, "/", `\`)
		}
		if got != want {
			t.Errorf("%s %v: the add-on looks in %s, the CLI in %s", tc.goos, tc.env, got, want)
		}
	}
	out, err := exec.Command(py, "-c", fmt.Sprintf(`import importlib.util as u
spec = u.spec_from_file_location("node", %q); m = u.module_from_spec(spec); spec.loader.exec_module(m)
print(m.default_home({"RENDERSWARM_HOME": "/srv/rs", "XDG_DATA_HOME": "/x"}, "linux", "/home/u"))`, filepath.Join(dir, Module, "node.py"))).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "/srv/rs" {
		t.Errorf("with RENDERSWARM_HOME the add-on looks in %s (%v), want /srv/rs", out, err)
	}
}
