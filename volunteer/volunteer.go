package volunteer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/assets"
	"github.com/renderswarm/renderswarm/credits"
	"github.com/renderswarm/renderswarm/internal/clock"
	"github.com/renderswarm/renderswarm/job"
	"github.com/renderswarm/renderswarm/p2p"
	"github.com/renderswarm/renderswarm/render"
	"github.com/renderswarm/renderswarm/work"
)

// Publishers is the work protocol as the volunteer uses it: the typed
// client, one call per operation (work.Client).
type Publishers interface {
	Lease(ctx context.Context, pub peer.ID, jobID cid.Cid, renderers map[string]string) (work.LeaseAnswer, error)
	Backup(ctx context.Context, pub peer.ID, jobID cid.Cid, renderers map[string]string) (work.LeaseAnswer, error)
	Renew(ctx context.Context, pub peer.ID, ref work.Ref, progress float64) (time.Time, error)
	Commit(ctx context.Context, pub peer.ID, ref work.Ref, c job.Commitment) (reveal bool, err error)
	Await(ctx context.Context, pub peer.ID, ref work.Ref) (reveal bool, err error)
	Deliver(ctx context.Context, pub peer.ID, d work.Delivery, png io.Reader, size int64) error
	CommitDeliver(ctx context.Context, pub peer.ID, d work.Delivery, c job.Commitment, png io.Reader, size int64) (delivered bool, err error)
	Fail(ctx context.Context, pub peer.ID, ref work.Ref, reason string) error
	Release(ctx context.Context, pub peer.ID, ref work.Ref) error
	Receipts(ctx context.Context, pub peer.ID) ([]credits.SignedReceipt, error)
	Countersign(ctx context.Context, pub peer.ID, srs ...credits.SignedReceipt) error
}

var _ Publishers = (*work.Client)(nil)

// Gossip delivers the validated messages of a pub/sub topic until ctx ends
// (*p2p.Node).
type Gossip interface {
	Subscribe(ctx context.Context, topic string, handle func(p2p.Message)) error
}

// Assets is what the volunteer needs of the asset store: fetch a scene and
// keep it while rendering. Results never go through it: they go to their
// publisher alone, on the delivery stream.
type Assets interface {
	Get(ctx context.Context, c cid.Cid, progress func(assets.Progress)) (assets.Info, error)
	Hold(c cid.Cid) (release func(), err error)
	Path(c cid.Cid) (string, error)
}

// Machine tells whether the rest of the machine has been idle (WhenIdle
// mode).
type Machine interface {
	IdleFor(d time.Duration, now time.Time) bool
}

// Config configures a Volunteer. Zero values are documented per field.
type Config struct {
	Key        crypto.PrivKey  // the node's identity; required
	Publishers Publishers      // required
	Gossip     Gossip          // required
	Assets     Assets          // required
	Ledger     *credits.Ledger // countersigned receipts and priorities; required
	// Backends by renderer name, and Versions of those installed here (name
	// -> exact version).
	Backends map[string]render.Backend
	Versions map[string]string
	Settings Settings // in effect at start
	Machine  Machine  // nil: the machine always counts as idle
	// Speed is this machine's speed relative to the reference machine
	// (MeasureSpeed), for the compute units it claims; 0 means 1.
	Speed   float64
	WorkDir string      // scratch space for renders; required
	Clock   clock.Clock // nil: the wall clock
	Logger  *slog.Logger
}

// Volunteer renders other publishers' tasks.
type Volunteer struct {
	cfg      Config
	self     peer.ID
	log      *slog.Logger
	clock    clock.Clock
	settings *settingsBox
	offers   *offerBook

	committed  chan struct{}  // a slot per committed result not yet delivered
	delivering chan struct{}  // a slot per result being uploaded
	inFlight   sync.WaitGroup // background deliveries and heartbeats

	mu           sync.Mutex
	committing   map[cid.Cid]int       // background commitments on their way, per job (commitLater)
	owedAt       map[peer.ID]time.Time // when the ledger last noted each publisher owes receipts (owe)
	renders      map[string]*active    // by lease ID
	rendered     int                   // tasks delivered since start
	preview      []byte                // the last delivered render's PNG, or its thumbnail once previewSmall
	previewSmall bool
}

// Results in the background: at most maxCommitted committed and waiting
// for their task's other replicas, and maxDelivering uploading at once.
const (
	maxCommitted  = 8
	maxDelivering = 2
)

// New returns a volunteer; it starts nothing: Run does.
func New(cfg Config) (*Volunteer, error) {
	if cfg.Key == nil || cfg.Publishers == nil || cfg.Gossip == nil || cfg.Assets == nil || cfg.Ledger == nil || cfg.WorkDir == "" {
		return nil, errors.New("volunteer: Key, Publishers, Gossip, Assets, Ledger and WorkDir are required")
	}
	self, err := peer.IDFromPrivateKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("volunteer identity: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Speed == 0 {
		cfg.Speed = 1
	}
	cfg.Clock = clock.Or(cfg.Clock)
	return &Volunteer{
		cfg: cfg, self: self, log: cfg.Logger, clock: cfg.Clock,
		settings:   newSettingsBox(cfg.Settings),
		offers:     newOfferBook(self, newPicker(cfg.Settings, self, cfg.Versions, cfg.Ledger, cfg.Clock)),
		committed:  make(chan struct{}, maxCommitted),
		delivering: make(chan struct{}, maxDelivering),
		renders:    map[string]*active{},
		committing: map[cid.Cid]int{},
		owedAt:     map[peer.ID]time.Time{},
	}, nil
}

// Run listens for announcements, works, and collects receipts until ctx
// ends; it returns once everything it started has stopped, handing back
// the leases it still held.
func (v *Volunteer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, loop := range []func(context.Context){v.listen, v.collectReceiptsLoop, v.enforce} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	defer v.inFlight.Wait()
	v.work(ctx)
	return nil
}

// listen keeps the offer book from the jobs topic.
func (v *Volunteer) listen(ctx context.Context) {
	err := v.cfg.Gossip.Subscribe(ctx, work.JobsTopic, func(msg p2p.Message) {
		a, m, sm, err := work.DecodeAnnouncement(msg.Data, msg.From.String())
		if err != nil {
			return // the topic validator already rejected what it could
		}
		v.offers.add(a, m, sm, v.clock.Now())
	})
	if err != nil && ctx.Err() == nil {
		v.log.Error("announcementsUnavailable", "err", err)
	}
}

// idleRetry is how long the volunteer waits for news when no publisher had
// work for it.
const idleRetry = 2 * time.Second

// work asks publishers for leases, best offer first, until ctx ends.
func (v *Volunteer) work(ctx context.Context) {
	idle := v.clock.NewTimer(0)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.offers.wake:
		case <-idle.C():
		}
		if !v.waitOpen(ctx) {
			return
		}
		worked, none := v.pass(ctx, v.offers.candidates(v.clock.Now()), false)
		if !worked && len(none) > 0 {
			// No job had work: rather than idle, race a straggler's task
			// (the first of the two to commit keeps it).
			worked, _ = v.pass(ctx, none, true)
		}
		if ctx.Err() != nil {
			return
		}
		if worked {
			idle.Reset(0)
		} else {
			idle.Reset(idleRetry)
		}
	}
}

// pass asks the offers in order until one grants a lease and it is
// rendered (worked); none are the offers that had no work.
func (v *Volunteer) pass(ctx context.Context, offers []Offer, backup bool) (worked bool, none []Offer) {
	for _, o := range offers {
		err := v.workOn(ctx, o, backup)
		if ctx.Err() != nil {
			return false, nil
		}
		if err == nil {
			return true, nil
		}
		if errors.Is(err, errNoWork) {
			none = append(none, o)
		} else {
			v.log.Warn("taskFailed", "job", o.ID, "err", err)
		}
	}
	return false, none
}

// Offers lists the jobs others announced lately, oldest first.
func (v *Volunteer) Offers() []Offer { return v.offers.list(v.clock.Now()) }

// Settings returns the settings in effect.
func (v *Volunteer) Settings() Settings {
	s, _ := v.settings.get()
	return s
}

// Offered reports whether the volunteer offers a renderer to publishers.
func (v *Volunteer) Offered(renderer string) bool {
	return offered(v.cfg.Versions, v.Settings())[renderer] != ""
}

// ApplySettings makes new settings take effect at once: a render of a
// renderer no longer offered, or of a job or publisher now blocked, or any
// render when the gate closes, is handed back.
func (v *Volunteer) ApplySettings(s Settings) {
	v.offers.picker.SetBlocked(s.BlockedPublishers, s.BlockedJobs)
	off := offered(v.cfg.Versions, s)
	v.offers.picker.SetRenderers(off)
	v.settings.set(s)
	v.stopRenders(errHandedBack, func(r *active) bool {
		return slices.Contains(s.BlockedPublishers, r.info.Publisher) || slices.Contains(s.BlockedJobs, r.info.Job) || off[r.renderer] == ""
	})
}
