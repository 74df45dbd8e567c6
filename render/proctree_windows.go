package render

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// KillTree ends p and every process it started. Windows has no process
// groups to signal: the tree, found by parent IDs in a process snapshot,
// is put into a fresh job object, snapshot after snapshot until no
// process of the tree is outside it (a process started by one already in
// the job joins the job itself, so none escapes while this runs), and the
// job is terminated. A process whose parent had already ended before the
// kill is out of reach, as with taskkill /T.
func KillTree(p *os.Process) error {
	defer p.Kill()
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(job)
	inJob := map[uint32]bool{}
	for range 16 {
		procs, err := snapshot()
		if err != nil {
			return err
		}
		added := 0
		for _, pid := range treeOf(procs, uint32(p.Pid)) {
			if inJob[pid] {
				continue
			}
			h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, pid)
			if err != nil {
				continue // ended meanwhile, or not ours
			}
			if windows.AssignProcessToJobObject(job, h) == nil {
				inJob[pid] = true
				added++
			}
			windows.CloseHandle(h)
		}
		if added == 0 {
			break
		}
	}
	return windows.TerminateJobObject(job, 1)
}

// snapshot lists the system's processes with their parents and creation
// times (0 where the process cannot be opened).
func snapshot() ([]procEntry, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(snap)
	var out []procEntry
	e := windows.ProcessEntry32{Size: uint32(unsafe.Sizeof(windows.ProcessEntry32{}))}
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		out = append(out, procEntry{pid: e.ProcessID, ppid: e.ParentProcessID, created: created(e.ProcessID)})
	}
	return out, nil
}

// created is a process's creation time in 100 ns units, 0 if unknown.
func created(pid uint32) int64 {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return 0
	}
	defer windows.CloseHandle(h)
	var c, x, k, u windows.Filetime
	if windows.GetProcessTimes(h, &c, &x, &k, &u) != nil {
		return 0
	}
	return c.Nanoseconds() / 100
}
