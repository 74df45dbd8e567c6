package render

// procEntry is one process in a snapshot of the system's processes.
type procEntry struct {
	pid, ppid uint32
	created   int64 // creation time in any monotonic unit; 0 if unknown
}

// treeOf is root and every process descending from it in procs, root
// first. A process created before the one its parent ID names cannot be
// its child: that ID was reused after the real parent ended (Windows
// reuses process IDs and keeps the parent ID of orphans).
func treeOf(procs []procEntry, root uint32) []uint32 {
	children := map[uint32][]procEntry{}
	byPID := map[uint32]procEntry{}
	for _, p := range procs {
		byPID[p.pid] = p
		if p.pid != p.ppid {
			children[p.ppid] = append(children[p.ppid], p)
		}
	}
	out := []uint32{root}
	seen := map[uint32]bool{root: true}
	for i := 0; i < len(out); i++ {
		parent := byPID[out[i]]
		for _, c := range children[out[i]] {
			if seen[c.pid] || (parent.created != 0 && c.created != 0 && c.created < parent.created) {
				continue
			}
			seen[c.pid] = true
			out = append(out, c.pid)
		}
	}
	return out
}
