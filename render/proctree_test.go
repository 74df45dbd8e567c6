package render

import (
	"slices"
	"testing"
)

func TestTreeOf(t *testing.T) {
	procs := []procEntry{
		{pid: 4, ppid: 0, created: 1},
		{pid: 100, ppid: 4, created: 10},   // the node
		{pid: 200, ppid: 100, created: 20}, // a renderer
		{pid: 300, ppid: 200, created: 30}, // its helper
		{pid: 301, ppid: 300, created: 31}, // the helper's child
		{pid: 400, ppid: 200, created: 15}, // older than 200: its parent 200 was another process
		{pid: 500, ppid: 100, created: 50}, // the node's other child
		{pid: 600, ppid: 600, created: 60}, // its own parent (idle process style)
	}
	if got, want := treeOf(procs, 200), []uint32{200, 300, 301}; !slices.Equal(got, want) {
		t.Errorf("tree of 200 = %v; want %v", got, want)
	}
	// Unknown creation times: trust the parent IDs.
	procs[5].created = 0
	if got, want := treeOf(procs, 200), []uint32{200, 300, 400, 301}; !slices.Equal(got, want) {
		t.Errorf("tree of 200, times unknown = %v; want %v", got, want)
	}
	if got := treeOf(procs, 999); !slices.Equal(got, []uint32{999}) {
		t.Errorf("tree of a process not in the snapshot = %v", got)
	}
}
