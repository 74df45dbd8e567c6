package blender

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
