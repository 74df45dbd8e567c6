//go:build !linux

package usage

// Supported: the counters are read from Linux's /proc only.
const Supported = false

// readSample has no counters outside Linux: CPU and memory show as unknown
// and the machine always counts as idle.
func readSample() sample { return sample{} }
