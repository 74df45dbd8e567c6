//go:build !windows

package main

// leaveOwnConsole does nothing: only Windows opens a console window for a
// program started at login.
func leaveOwnConsole() {}
