//go:build !unix

package render

// FileTooLarge reports whether a renderer process ended by writing past
// its file size limit; there is none here.
func FileTooLarge(error) bool { return false }
