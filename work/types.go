package work

import (
	"image"
	"io"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/renderswarm/renderswarm/job"
)

// Ref names one lease of one job.
type Ref struct {
	Job   cid.Cid
	Lease string
}

// Grant is a lease a publisher granted: one replica of one task, with the
// salt the volunteer commits with and the job's verified manifest.
type Grant struct {
	Ref
	Task     job.Task
	Salt     job.Salt
	Expires  time.Time
	Manifest job.Manifest
	Signed   []byte // the signed manifest's wire form
	// Crop, when not empty, makes the lease a check replica: the volunteer
	// renders only these pixels of the task (frame coordinates, inside its
	// tile), commits to them and delivers them as the whole result, without
	// extra passes. The publisher compares them with the same pixels of
	// another peer's result.
	Crop image.Rectangle
	// Slots is how many leases of the job the volunteer may hold
	// uncommitted at once (0: the publisher did not say; take it as 1). A
	// volunteer with more than one may lease its next task while its
	// commitment to this one is on its way.
	Slots int
}

// LeaseAnswer is a publisher's answer to a lease request: a grant, or how
// long to wait before asking again.
type LeaseAnswer struct {
	Grant *Grant
	Retry time.Duration // when Grant is nil
}

// Delivery reveals a committed result; its PNG follows as the request's
// body.
type Delivery struct {
	Ref
	CU int64 // milli-CU the volunteer claims for the render
}

// Body is a delivered result's PNG, not transferred yet: a publisher looks
// at the delivery first and opens the body only if it wants it, reading at
// most Len bytes. *p2p.Body is one.
type Body interface {
	Size() int64
	Open() (io.Reader, error)
}
