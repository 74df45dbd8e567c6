// Package autostart starts a renderswarm node when its user logs in, for
// that user only and without root: a systemd user unit on Linux, a
// LaunchAgent on macOS, a value under the per-user Run key on Windows.
//
// Everything that decides what is written or run is plain code that the
// Linux tests cover for every system: the unit, the property list and the
// Windows command line are built by functions (SystemdUnit,
// LaunchAgentPlist, WindowsCommandLine), and each Manager runs its
// system's tools (systemctl, launchctl) through an injected Runner and
// reaches the registry through a small interface. The files named after a
// system only pick that system's Manager and hold the few calls that exist
// there alone.
//
// Where the node logs: under systemd on stderr, which goes to the user's
// journal (journalctl --user -u renderswarm); under launchd and on Windows
// to a file in the node's home (Entry.LogFile).
//
// Decisions:
//   - Windows: the Run key, not Task Scheduler. Writing under HKCU needs no
//     rights a standard user lacks, and its value is one command line that
//     this package builds and tests; a logon-triggered scheduled task may
//     need elevation depending on policy. A console program started from
//     the Run key gets a console window; the node closes it when it logs
//     to a file and owns that console alone (cmd/renderswarm).
//   - The node runs at the lowest CPU priority (nice 19) under systemd and
//     launchd, so a volunteer's renders yield to whatever its user does;
//     systemd also lowers its I/O priority.
//   - Restarted when it fails, not when it stops cleanly.
//
// It imports only the standard library and golang.org/x/sys.
package autostart
