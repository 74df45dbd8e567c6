package work

import (
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"
)

// Protocol carries leases, commitments, results and receipts between a
// volunteer and a publisher: one request (a header, and a body only for a
// delivered result) and one response per stream.
const Protocol protocol.ID = "/renderswarm/work/2"

// JobsTopic is the GossipSub topic where publishers announce open jobs.
const JobsTopic = "/renderswarm/jobs/1"

// Timings both sides rely on.
const (
	// LeaseTTL is how long a lease lives without a heartbeat: a volunteer
	// that vanishes costs this long.
	LeaseTTL = 20 * time.Second
	// RenewEvery is a volunteer's heartbeat on a lease it works on.
	RenewEvery = LeaseTTL / 4
	// AnnounceEvery is how often a publisher re-announces its open jobs, so
	// that nodes that join late hear of them (pub/sub is lossy; streams are
	// the truth).
	AnnounceEvery = 10 * time.Second
	// OfferMaxAge is how long a volunteer keeps an announcement that is not
	// repeated.
	OfferMaxAge = 3 * AnnounceEvery
	// DeliverPatience is how long a volunteer keeps trying to reach a
	// publisher that went away (a crash and restart) before giving a
	// finished result up.
	DeliverPatience = 3 * time.Minute
	// AwaitLimit is the longest a publisher holds an Await before answering
	// "not yet"; the volunteer asks again.
	AwaitLimit = 15 * time.Second
)

// How long a publisher asks a volunteer to wait before asking for work
// again, by the reason it had none.
const (
	RetryNoWork  = 2 * time.Second  // every task is out, or the job is paused
	RetryDone    = 60 * time.Second // the job is finished or canceled
	RetryBlocked = 10 * time.Minute // this volunteer is blocklisted for the job
)

// MaxReceiptsPerAnswer bounds the receipts one Receipts answer carries;
// the rest come with the next.
const MaxReceiptsPerAnswer = 64
