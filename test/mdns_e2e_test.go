//go:build linux

package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lan is two network namespaces joined by a veth pair: a LAN of the test's
// own, addressed from the documentation range 192.0.2.0/24, that nothing
// outside the namespaces can reach.
type lan struct {
	names [2]string
	addrs [2]string
}

func newLAN(t *testing.T) *lan {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces for a LAN with multicast")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip) to create network namespaces")
	}
	id := os.Getpid() % 100000
	l := &lan{
		names: [2]string{fmt.Sprintf("rs%da", id), fmt.Sprintf("rs%db", id)},
		addrs: [2]string{"192.0.2.1", "192.0.2.2"},
	}
	va, vb := fmt.Sprintf("rv%da", id), fmt.Sprintf("rv%db", id)
	t.Cleanup(func() {
		for _, n := range l.names {
			exec.Command("ip", "netns", "del", n).Run()
		}
	})
	for _, args := range [][]string{
		{"netns", "add", l.names[0]},
		{"netns", "add", l.names[1]},
		{"link", "add", va, "type", "veth", "peer", "name", vb},
		{"link", "set", va, "netns", l.names[0]},
		{"link", "set", vb, "netns", l.names[1]},
		{"-n", l.names[0], "addr", "add", l.addrs[0] + "/24", "dev", va},
		{"-n", l.names[1], "addr", "add", l.addrs[1] + "/24", "dev", vb},
		{"-n", l.names[0], "link", "set", va, "up"},
		{"-n", l.names[1], "link", "set", vb, "up"},
		{"-n", l.names[0], "link", "set", "lo", "up"},
		{"-n", l.names[1], "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("cannot build a test LAN here (ip %s: %v: %s)", strings.Join(args, " "), err, out)
		}
	}
	return l
}

// inNS runs the CLI inside namespace ns (where the node's API listens).
func inNS(t *testing.T, ns, home string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, binary, "--home", home}, args...)...).Output()
	return string(out), err
}

// Nodes on one LAN find each other with no configuration at all: no
// bootstrap addresses, only mDNS.
func TestLANDiscoveryWithoutConfiguration(t *testing.T) {
	skipIfShort(t)
	l := newLAN(t)
	var homes [2]string
	for i := range 2 {
		homes[i] = t.TempDir()
		cmd := exec.Command("ip", "netns", "exec", l.names[i], binary, "--home", homes[i], "node",
			"--listen", "/ip4/"+l.addrs[i]+"/tcp/0", "--gui", "127.0.0.1:0", "--no-volunteer")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		logf, _ := os.Create(filepath.Join(t.TempDir(), "node.log"))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
			}
			if t.Failed() {
				b, _ := os.ReadFile(logf.Name())
				t.Logf("node %d log:\n%s", i, tail(string(b), 30))
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		found := 0
		for i := range 2 {
			out, err := inNS(t, l.names[i], homes[i], "peers", "--json")
			var peers []struct {
				Addrs []string `json:"addrs"`
			}
			if err == nil && json.Unmarshal([]byte(out), &peers) == nil && len(peers) == 1 &&
				strings.Contains(strings.Join(peers[0].Addrs, " "), l.addrs[1-i]) {
				found++
			}
		}
		if found == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nodes on one LAN did not find each other by mDNS within 30s")
		}
		time.Sleep(300 * time.Millisecond)
	}
}
