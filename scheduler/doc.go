// Package scheduler decides who renders what: the publisher's Coordinator
// hands out, tracks, requeues and resolves the replicas of one job's tasks,
// and the volunteer's Picker ranks the job offers it has seen.
//
// It is pure decision logic: no sockets, no goroutines, no database, and no
// wall clock — every method that depends on time takes now. The node
// carries leases, commitments and results over its streams, stores
// snapshots in its database and verifies images with package credits; the
// same code runs in tests and in simulations of thousands of peers. It
// imports job, go-cid, libp2p's core/peer (the peer ID type) and the
// standard library; never node, p2p, assets, render, gui or credits.
//
// # Work order
//
// Volunteers pull: Lease hands the asking peer one replica of the first task,
// in (frame, tile) order, that still wants a replica, has all its Depends
// accepted and has never been leased to that peer. Because the order is
// strict, a requeued or extra replica of an earlier frame always goes out
// before the first replica of a later frame, and the replicas of one task
// go to consecutive askers: frames finish roughly in order, and a task that
// already has results delivered is completed before later work is started
// — but never at the expense of an earlier frame.
//
// # Placement
//
// A task never gets two replicas from one peer, not even after that peer's
// replica expired, failed or was handed back. Peers on public addresses
// pass their network prefix; while a peer on a different non-empty prefix
// has asked for work within the last lease TTL, Lease skips tasks that
// already have a live or delivered replica on the asker's prefix, looking
// at most 64 leasable tasks ahead, and falls back to the first leasable
// task when none fits. With one prefix only (a LAN, loopback, one campus),
// or "" (private, unknown), nothing is skipped: spreading never stalls.
//
// # Replication
//
// With Replicas N ≥ 2 every task starts wanting N replicas and accepts N
// agreeing results. With Replicas 1 (adaptive, DESIGN.md §5) a task
// leased to a new volunteer (Standing.New) is replicated at once. For an
// established volunteer the coin — odds max(0.05, 1/ConsecutiveValid),
// drawn from Config.Rand — is flipped when it commits to its result, not
// when it is leased: until the holder is bound to its result no second
// replica exists, so neither it nor a colluder asking for the same task can
// learn whether the task will be checked. A replicated task wants two
// agreeing results from distinct peers; the second replica goes out after
// the first one's commitment, which makes replicated frames of established
// volunteers take about twice as long. Replication never goes back; if the
// holder's lease is lost, the next holder's standing decides anew.
//
// At a job's end, that second render would be the job's last minutes.
// So when the coin asks for it while peers stand idle (at least as many
// asked for backups in the last half minute as there are replicas to
// race, and as there are parts), the second render is cut in parts, as
// many as peers stand idle up to six; and so it is once every task of the
// job is held (no task is left that nobody renders), in as many parts as
// other peers hold a render of the job, up to six: they take the parts as
// they come free. The parts (Config.Split: bands that cover the tile
// exactly) are each leased to another peer as a check replica, and the
// task is decided on the first result and every part: every pixel is
// still rendered twice, by the holder and by another peer, but in a
// fraction of the time. The parts count as one result towards
// MaxResults. For their first 20 s (partWait) the parts go only to peers
// at least as fast as the job's mean. The coin, and when it is flipped,
// are unchanged.
//
// When the coin leaves the task unreplicated and Config.Check chooses a
// crop (the publisher draws one at random, a sixteenth of the tile), the
// task gets a check replica instead: another peer renders just that crop
// (Lease.Crop), and the task is decided on both results, the crop's peer
// among the agreeing ones (Checked). The crop is chosen only once the
// result is committed. Every result of an established volunteer is thus
// seen by a second peer at the cost of a sixteenth of a render. If no
// other peer takes the check replica within CheckWait, the task is decided
// on its own result and the publisher checks it itself
// (TaskResults.SelfCheck). While peers stand idle, the crop too goes
// only to peers at least as fast as the job's mean for its first 20 s.
//
// # Backups of stragglers
//
// A volunteer that no job had work for asks with LeaseBackup. When the job
// has nothing to lease to it either, it may race a straggler: a replica of
// a whole task, not yet committed, that the task's commitments wait for
// (of a task that needs n more, the n-th due of its replicas out), and
// that this volunteer is expected to commit well before. The coordinator
// estimates when a replica will commit from the progress its renewals
// report (Report), else from its peer's pace on the job's earlier tasks,
// else from the speed the peer says it has (NoteSpeed); with none, a
// replica is not raced before BackupAfter and the reference machine's
// render (RenderTime ÷ SlowFactor). An estimate the render outlives by d
// is moved to d from now, so a holder whose reports its render belies is
// raced all the same. The asker's own pace, or the job's mean, says when
// it would commit. Of the tasks it beats by a quarter of its render, it
// races the one due last. Each commitment while a task races withdraws
// the other replica out due last, without a failure charged; its result
// is verified like any other. A task races one backup at a time: a
// volunteer that would beat the replica its commitments wait for
// replaces the one of the two racers due last or, of a task replicated
// for verification, the backup when the task waits for it, or when the
// volunteer, its pace on the job measured, would commit well before the
// backup (the task's other slow replica is raced only once the backup
// commits). A check replica is never raced; a task
// replicated for verification only by an established peer on another
// prefix, and never by two backups for the results it still needs:
// backups go to whoever asks, so two colluders asking one after the
// other would get the same task. So a job's last frames do not wait for
// its slowest machines while fast ones idle.
//
// While at least as many peers asked for backups in the last half minute
// as there are tasks to race, an asker that beats none races the one due
// last that it would not trail by more than half its own render
// (insurance) of those not raced yet: a holder that leaves or crashes then
// costs nothing, where its task would otherwise go out again only once its
// lease expired.
//
// Nor are the last frames given to slow machines in the first place: once
// the job drains, a volunteer whose render of a whole task would take half
// as long again as the job's peers need to finish all its whole-task work
// without it gets no task nobody holds a render of here (leaveToFaster),
// counting a task whose renders were all lost (its holder left, or handed
// it back) as one nobody tried: check crops and further replicas, which
// the faster peers may not be allowed, still. Its
// render time comes from its pace on the job, else from the speed it says
// it has (NoteSpeed: the one it measured for the compute units it claims),
// else from the job's mean pace.
//
// # Verification hand-off
//
// The volunteer commits to job.Commit(salt, digest) (Commit) before it
// reveals its result; the publisher fetches the image, computes the pixel
// digest itself and calls Deliver, which refuses a digest that does not
// open the commitment. When every wanted replica of a task is delivered the
// task appears in Pending; the node compares the images (credits.Decide)
// and calls Resolve: Accept credits the agreeing peers and charges each
// loser of a strict-majority vote (2-of-3) a failure; NeedReplica leases one
// more replica to a new peer and raises the quorum to at least 2; when
// MaxResults results (default 5) still do not agree, the task fails (also on
// GiveUp), and every task depending on it fails too. A mismatch alone
// charges nobody.
//
// # Failures and the blocklist
//
// Per peer and job, a lease that expires, is handed back with Fail, or
// whose result does not open its commitment, and a lost 2-of-3 vote each
// count one failure; Release (the volunteer's user paused or quit) counts
// half. At MaxFailures failures (default 3) the peer is blocklisted for the
// job: Lease returns ErrBlocked. Results it already delivered still count.
// A task handed back with Fail by MaxRenderFailures distinct peers
// (default 2) fails: renders crashing or timing out on different machines
// point at the scene, and a job must end rather than wait forever.
//
// # Persistence
//
// Snapshot encodes the state as compact versioned JSON (SnapshotVersion):
// only tasks that differ from a fresh job, by index in work order, with a
// fingerprint of the task list and peer IDs interned in one table (about
// 180 bytes per decided task). Restore checks every value, keeps accepted
// results and credited flags, and keeps open leases valid; leases live at
// the snapshot's latest time get the publisher's downtime added, so results
// finished while it was away are still taken. Lease IDs are a random
// per-process epoch plus a persisted counter, so they never collide with
// earlier ones, even when the stored snapshot is older than the last lease.
// Soft state (who asked from which prefix, expiries not yet reported by
// Expire) is not kept.
//
// # Picking
//
// A volunteer's Picker keeps the offers it has seen, drops those not
// re-announced for three periods, and orders the rest: own jobs first, then
// in a seeded share of rounds (default 1 in 5) jobs of publishers with no
// standing at all, then by priority (from credits), then oldest announcement
// first. Offers need the renderer's name and exact version.
package scheduler
