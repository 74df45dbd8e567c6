package node

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestDefaultHomePerSystem(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		goos    string
		env     map[string]string
		home    string
		want    string
		wantErr bool
	}{
		{goos: "linux", home: "/home/ada", want: "/home/ada/.local/share/renderswarm"},
		{goos: "linux", env: map[string]string{"XDG_DATA_HOME": "/data"}, home: "/home/ada", want: "/data/renderswarm"},
		{goos: "freebsd", home: "/home/ada", want: "/home/ada/.local/share/renderswarm"},
		{goos: "linux", wantErr: true},
		// XDG is not macOS's convention: Application Support is.
		{goos: "darwin", env: map[string]string{"XDG_DATA_HOME": "/data"}, home: "/Users/ada", want: "/Users/ada/Library/Application Support/renderswarm"},
		{goos: "darwin", wantErr: true},
		{goos: "windows", env: map[string]string{"LOCALAPPDATA": "/c/Users/ada/AppData/Local", "APPDATA": "/roaming"}, home: "/c/Users/ada", want: "/c/Users/ada/AppData/Local/renderswarm"},
		{goos: "windows", home: "/c/Users/ada", want: "/c/Users/ada/AppData/Local/renderswarm"},
		{goos: "windows", wantErr: true},
	} {
		got, err := DefaultHome(tc.goos, env(tc.env), tc.home)
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "pass --home") {
				t.Errorf("%s %v %q: got %q, %v; want an error asking for --home", tc.goos, tc.env, tc.home, got, err)
			}
			continue
		}
		if err != nil || got != filepath.FromSlash(tc.want) {
			t.Errorf("%s %v %q: got %q, %v; want %q", tc.goos, tc.env, tc.home, got, err, tc.want)
		}
	}
}

func TestHomeLockIsExclusiveAndNamesHolder(t *testing.T) {
	home := t.TempDir()
	l, err := lockHome(home)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockHome(home)
	if !errors.Is(err, ErrHomeInUse) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v; want ErrHomeInUse naming pid %d", err, os.Getpid())
	}
	l.release()
	l2, err := lockHome(home)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.release()
}

func TestNoSandboxOffLinux(t *testing.T) {
	if why := noSandbox("linux"); why != "" {
		t.Errorf("linux: %q; want a sandbox", why)
	}
	for _, goos := range []string{"windows", "darwin", "freebsd"} {
		if why := noSandbox(goos); why == "" {
			t.Errorf("%s: reports a sandbox; bubblewrap is Linux-only", goos)
		}
	}
}
