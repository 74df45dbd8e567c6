package dist

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/internal/autostart"
	"github.com/renderswarm/renderswarm/internal/autostart/systemdtest"
)

// targets are the release's systems.
var targets = []string{"linux/amd64", "linux/arm64", "windows/amd64", "darwin/amd64", "darwin/arm64"}

// buildMargin is what a test leaves of its deadline after a build.
const buildMargin = 2 * time.Minute

// need skips (or, under RENDERSWARM_REQUIRE_RENDERERS=1, fails) without a
// program the test needs.
func need(t *testing.T, program, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		msg := fmt.Sprintf("%s is not installed (apt-get install %s)", program, pkg)
		if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// build runs dist/build into out with env, bounded by the test's
// deadline.
func build(t *testing.T, out string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	if d, ok := t.Deadline(); ok {
		ctx, cancel = context.WithDeadline(context.Background(), d.Add(-buildMargin))
	}
	defer cancel()
	cmd := exec.CommandContext(ctx, "./build")
	cmd.Env = append(os.Environ(), append([]string{"OUT=" + out}, env...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dist/build: %v (a cold build of one target takes minutes on 2 cores: go test -timeout 30m)\n%s", err, b)
	}
}

// readEnv reads build.env, the settings dist/build used.
func readEnv(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "build.env"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		env[k] = v
	}
	return env
}

// TestRelease checks a release: the one $RENDERSWARM_DIST_OUT names (CI's
// dist/build step makes all five targets), else one it builds for
// linux/amd64: checksums, each archive's binary is for its system, the
// Linux binary tells its stamped version, the Debian package's files, its
// unit and its desktop entry, and that building again gives the same
// bytes.
func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds release archives and a Debian package: not with -short")
	}
	need(t, "dpkg-deb", "dpkg")
	need(t, "sha256sum", "coreutils")
	out := os.Getenv("RENDERSWARM_DIST_OUT")
	if out == "" {
		out = t.TempDir()
		build(t, out, "VERSION=1.2.3-test", "COMMIT=0123456789abcdef", "SOURCE_DATE_EPOCH=1700000000", "TARGETS=linux/amd64")
	}
	env := readEnv(t, out)
	version := env["VERSION"]
	built := strings.Fields(env["TARGETS"])
	if os.Getenv("RENDERSWARM_DIST_OUT") != "" && !slices.Equal(built, targets) {
		t.Errorf("the release in %s is for %q; want every target %q", out, built, targets)
	}

	sums := checkSums(t, out)
	var debs []string
	for _, tg := range built {
		goos, goarch, _ := strings.Cut(tg, "/")
		name := "renderswarm-" + version + "-" + goos + "-" + goarch
		archive := name + ".tar.gz"
		if goos == "windows" {
			archive = name + ".zip"
		}
		if !slices.Contains(sums, archive) {
			t.Errorf("SHA256SUMS lacks %s: %q", archive, sums)
			continue
		}
		bin := unpack(t, filepath.Join(out, archive), name)
		checkBinary(t, bin, goos, goarch)
		if goos == "linux" {
			debs = append(debs, "renderswarm_"+debVersion(version)+"_"+goarch+".deb")
		}
		if tg == runtime.GOOS+"/"+runtime.GOARCH {
			checkVersion(t, bin, version, env["COMMIT"])
		}
	}
	for _, d := range debs {
		if !slices.Contains(sums, d) {
			t.Errorf("SHA256SUMS lacks %s: %q", d, sums)
		}
	}
	if len(sums) != len(built)+len(debs) || len(debs) == 0 {
		t.Fatalf("SHA256SUMS lists %q; want %d archives and the .deb of each Linux target", sums, len(built))
	}
	for _, d := range debs {
		t.Run(d, func(t *testing.T) { checkDeb(t, filepath.Join(out, d), version) })
	}
	t.Run("reproducible", func(t *testing.T) {
		again := t.TempDir()
		build(t, again, "VERSION="+version, "COMMIT="+env["COMMIT"], "SOURCE_DATE_EPOCH="+env["SOURCE_DATE_EPOCH"], "TARGETS=linux/amd64")
		first, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
		second, _ := os.ReadFile(filepath.Join(again, "SHA256SUMS"))
		for _, l := range strings.Split(strings.TrimSpace(string(second)), "\n") {
			if !strings.Contains(string(first), l+"\n") {
				t.Errorf("a rebuild gave other bytes: %s\nfirst build:\n%s", l, first)
			}
		}
	})
}

// debVersion is dist/build's Debian version for version.
func debVersion(v string) string {
	v = strings.ReplaceAll(v, "-", "+")
	if v != "" && v[0] >= '0' && v[0] <= '9' {
		return v
	}
	return "0.0.0~git" + v
}

// checkSums runs sha256sum -c on SHA256SUMS and returns the files it lists.
func checkSums(t *testing.T, dir string) []string {
	t.Helper()
	cmd := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, b)
	}
	f, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if _, name, ok := strings.Cut(sc.Text(), "  "); ok {
			names = append(names, name)
		}
	}
	return names
}

// unpack extracts an archive's binary (and checks the README is there)
// and returns the binary's path.
func unpack(t *testing.T, archive, folder string) string {
	t.Helper()
	files := map[string][]byte{}
	if strings.HasSuffix(archive, ".zip") {
		zr, err := zip.OpenReader(archive)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			files[f.Name], _ = io.ReadAll(rc)
			rc.Close()
		}
	} else {
		f, err := os.Open(archive)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", archive, err)
			}
			if h.Uid != 0 || h.Gid != 0 || (h.Name == folder+"/renderswarm" && h.Mode != 0o755) {
				t.Errorf("%s: %s owned by %d:%d, mode %o", archive, h.Name, h.Uid, h.Gid, h.Mode)
			}
			files[h.Name], _ = io.ReadAll(tr)
		}
	}
	binName := folder + "/renderswarm"
	if strings.HasSuffix(archive, ".zip") {
		binName += ".exe"
	}
	if len(files[folder+"/README.md"]) == 0 || len(files[binName]) == 0 || len(files) != 2 {
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		t.Fatalf("%s holds %q; want %s and %s/README.md", archive, names, binName, folder)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(binName))
	if err := os.WriteFile(bin, files[binName], 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// checkBinary checks that bin is an executable for goos/goarch.
func checkBinary(t *testing.T, bin, goos, goarch string) {
	t.Helper()
	var got string
	switch goos {
	case "linux":
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatalf("%s: not ELF: %v", bin, err)
		}
		defer f.Close()
		got = map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
	case "darwin":
		f, err := macho.Open(bin)
		if err != nil {
			t.Fatalf("%s: not Mach-O: %v", bin, err)
		}
		defer f.Close()
		got = map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
	case "windows":
		f, err := pe.Open(bin)
		if err != nil {
			t.Fatalf("%s: not PE: %v", bin, err)
		}
		defer f.Close()
		got = map[uint16]string{pe.IMAGE_FILE_MACHINE_AMD64: "amd64", pe.IMAGE_FILE_MACHINE_ARM64: "arm64"}[f.Machine]
	}
	if got != goarch {
		t.Errorf("%s/%s binary is for %q", goos, goarch, got)
	}
}

// checkVersion runs the Linux binary's --version and version.
func checkVersion(t *testing.T, bin, version, commit string) {
	t.Helper()
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("renderswarm %s: %v", args[0], err)
		}
		lines := strings.Split(string(out), "\n")
		if len(lines) < 4 || lines[0] != "renderswarm "+version || lines[1] != "commit "+commit ||
			!strings.HasPrefix(lines[2], "go go1.") || !strings.Contains(string(out), "\nrenderer builtin ") {
			t.Errorf("renderswarm %s printed:\n%s", args[0], out)
		}
	}
}

// checkDeb checks the package's listing, installs it into a scratch root
// and checks the unit and desktop entry against the files there.
func checkDeb(t *testing.T, deb, version string) {
	listing, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v", err)
	}
	for _, f := range []string{"./usr/bin/renderswarm", "./usr/lib/systemd/user/renderswarm.service", "./usr/share/applications/renderswarm.desktop", "./usr/share/icons/hicolor/scalable/apps/renderswarm.svg"} {
		if !bytes.Contains(listing, []byte(" "+f+"\n")) {
			t.Errorf("dpkg-deb -c does not list %s:\n%s", f, listing)
		}
	}
	fields, err := exec.Command("dpkg-deb", "-f", deb, "Package", "Version", "Architecture").Output()
	arch := strings.TrimSuffix(deb[strings.LastIndexByte(deb, '_')+1:], ".deb")
	if want := "Package: renderswarm\nVersion: " + debVersion(version) + "\nArchitecture: " + arch + "\n"; err != nil || string(fields) != want {
		t.Errorf("control fields = %q, %v; want %q", fields, err, want)
	}

	root := t.TempDir()
	if b, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, b)
	}
	unitPath := filepath.Join(root, "usr/lib/systemd/user/renderswarm.service")
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	// The unit is the one `service install` writes for this binary.
	if want, _ := autostart.SystemdUnit(autostart.Entry{Program: "/usr/bin/renderswarm"}); string(unit) != want {
		t.Errorf("packaged unit differs from the one service install writes:\n%s\nwant:\n%s", unit, want)
	}
	prog := execStart(t, string(unit))
	checkExecutable(t, root, prog)
	desktop, err := os.ReadFile(filepath.Join(root, "usr/share/applications/renderswarm.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(desktop), "\nExec=renderswarm open\n") {
		t.Errorf("desktop entry does not open the web app:\n%s", desktop)
	}
	checkExecutable(t, root, "/usr/bin/renderswarm") // Exec's renderswarm, found on PATH
	// systemd checks the unit, with its program where the scratch root has it.
	rooted := filepath.Join(t.TempDir(), "renderswarm.service")
	os.WriteFile(rooted, []byte(strings.Replace(string(unit), "ExecStart="+prog, "ExecStart="+filepath.Join(root, prog), 1)), 0o644)
	systemdtest.Verify(t, rooted)
	if dfv, err := exec.LookPath("desktop-file-validate"); err == nil {
		if b, err := exec.Command(dfv, filepath.Join(root, "usr/share/applications/renderswarm.desktop")).CombinedOutput(); err != nil || len(b) > 0 {
			t.Errorf("desktop-file-validate: %v\n%s", err, b)
		}
	} else if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
		t.Error("desktop-file-validate is not installed (apt-get install desktop-file-utils)")
	}
}

// execStart is the program of a unit's ExecStart line.
func execStart(t *testing.T, unit string) string {
	t.Helper()
	for _, l := range strings.Split(unit, "\n") {
		if c, ok := strings.CutPrefix(l, "ExecStart="); ok {
			return strings.Fields(c)[0]
		}
	}
	t.Fatalf("unit has no ExecStart:\n%s", unit)
	return ""
}

// checkExecutable checks that the scratch root has an executable at path.
func checkExecutable(t *testing.T, root, path string) {
	t.Helper()
	fi, err := os.Stat(filepath.Join(root, path))
	if err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("the package puts no executable at %s: %v", path, err)
	}
}
