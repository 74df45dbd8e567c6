// Package failpoint plays a power cut at a named step of the node's work,
// for crash tests: a process whose RENDERSWARM_FAILPOINT variable names a
// step kills itself (SIGKILL on Unix: no deferred call, no flush) the
// first time it reaches that step. With the variable unset, Hit costs a
// string comparison.
package failpoint

import "os"

// Env is the variable naming the step to die at.
const Env = "RENDERSWARM_FAILPOINT"

var armed = os.Getenv(Env)

// Steps of the receipt flow that crash tests cut at.
const (
	ReceiptIssued        = "receiptIssued"        // publisher: a receipt is in its ledger, the task not yet marked credited
	TaskCredited         = "taskCredited"         // publisher: the task is marked credited
	CountersignRecorded  = "countersignRecorded"  // publisher: a countersigned receipt is stored, not yet answered
	ResultDelivered      = "resultDelivered"      // volunteer: the publisher took its result
	ReceiptAccepted      = "receiptAccepted"      // volunteer: a receipt is countersigned in its ledger, not yet sent
	ReceiptCountersigned = "receiptCountersigned" // volunteer: the publisher acknowledged the countersignature
)

// Hit kills the process if step is the armed failpoint.
func Hit(step string) {
	if armed == "" || armed != step {
		return
	}
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Kill()
	}
	select {} // until the signal lands
}
