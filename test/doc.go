// Package test holds end-to-end tests that build the renderswarm binary and
// run it as separate processes, each node with its own home, on 127.0.0.1
// only. The attack tests (attacks_e2e_test.go) also build the adversary
// program, internal/adversary/cmd/rsadversary, and run it beside the
// nodes.
package test
