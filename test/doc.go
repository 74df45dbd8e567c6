// Package test holds end-to-end tests that build the renderswarm binary and
// run it as separate processes, each node with its own home, on 127.0.0.1
// only.
package test
