package node

// noSandbox is why renders of Blender and POV-Ray scenes cannot run in a
// sandbox on goos, "" where they can: bubblewrap, the sandbox both
// backends use, is Linux-only, so elsewhere their sandbox checks report
// none and the sandbox policy of DESIGN.md §4 applies (strangers' scenes
// only with the built-in renderer unless the user opts in). The node says
// so once at start.
func noSandbox(goos string) string {
	if goos == "linux" {
		return ""
	}
	return "bubblewrap is Linux-only"
}
