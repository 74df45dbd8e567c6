package job

import "fmt"

// Verdict is what verification concluded about the replicas of one task.
// credits reaches it (quorum rule, tolerant comparison) and scheduler
// applies it to the task's replicas; both speak this one type.
type Verdict int

const (
	// Waiting: fewer results than the quorum; wait for the outstanding ones.
	// Not a decision the coordinator takes.
	Waiting Verdict = iota
	// Accept the canonical result.
	Accept
	// NeedReplica: the results disagree; lease one more replica to a peer
	// that has not rendered the task yet.
	NeedReplica
	// GiveUp: no agreement is possible within the task's result budget; the
	// task fails. Nobody is penalized.
	GiveUp
	// Refute: the publisher's own check (a re-rendered crop) disproved the
	// canonical result: the results in Agreeing (those that matched it)
	// each count as a failure of their peer and are dropped; the other
	// delivered results stay as votes, and the task is leased to fresh
	// peers until a quorum can agree again.
	Refute
)

func (v Verdict) String() string {
	switch v {
	case Waiting:
		return "waiting"
	case Accept:
		return "accept"
	case NeedReplica:
		return "need-replica"
	case GiveUp:
		return "give-up"
	case Refute:
		return "refute"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Decision is a verdict on one task's replicas. Indices refer to the
// results in the order they were delivered.
type Decision struct {
	Verdict   Verdict
	Canonical int   // Accept: the accepted result; -1 otherwise
	Agreeing  []int // Accept: results matching the canonical one, itself included (credited); Refute: the refuted results
	// Losers: results outvoted by a strict majority of all results that
	// agrees with the canonical one (2-of-3). They, and only they, lost a
	// vote: a mismatch without a majority penalizes nobody.
	Losers []int
	// Established, with NeedReplica: the extra replica must come from an
	// established peer (the agreeing results could not be crop-checked).
	Established bool
	// Consistent, with Refute: two or more of the refuted results agree
	// with each other — the scene may render differently on other
	// machines than on the publisher's, which junk from cheaters, each
	// their own, does not.
	Consistent bool
}
