package povray

// InstallPaths are the places package managers put a command-line POV-Ray
// on goos, for when it is not on PATH (a node started at login by launchd
// sees only the system directories):
//
//	darwin   Homebrew (/opt/homebrew on Apple silicon, /usr/local on
//	         Intel), MacPorts (/opt/local)
//	linux    /usr/local/bin (built from source)
//	windows  none: POV-Ray for Windows is a GUI program (pvengine) with no
//	         command-line renderer this backend can drive; a povray.exe on
//	         PATH is used
func InstallPaths(goos string) []string {
	switch goos {
	case "darwin":
		return []string{"/opt/homebrew/bin/povray", "/usr/local/bin/povray", "/opt/local/bin/povray"}
	case "windows":
		return nil
	default:
		return []string{"/usr/local/bin/povray"}
	}
}
