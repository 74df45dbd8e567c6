// Package adversary is the kit of hostile peers that renderswarm's attack
// tests play against real nodes (DESIGN.md §5, "Hostile peers"). Every
// defence against a hostile peer starts as one of these attacks, written
// as a test that fails on the undefended code.
//
// A Peer is one identity: a real libp2p node (package p2p), a real asset
// store and ledger on its own database, the built-in renderer, and the
// typed work-protocol client. What it does with a job is a Behavior, small
// and composable:
//
//	copier      holds its lease uncommitted (renewing it) until another
//	            replica's result of the task turns up in the swarm, then
//	            commits to it and delivers it (Copy)
//	lazy        renders cheaper: fewer samples, or half the resolution
//	            scaled up (RenderLazy)
//	colluders   a Ring of identities that share results out of band: the
//	            first renders, the others deliver its image (Ring, with
//	            RenderWrong: all deliver the same wrong image)
//	Sybils      a Tandem of identities that ask for work back to back, so
//	            that they hold every replica of the tasks they get
//	inflater    claims credits.MaxMilliCU for every render (Claim)
//	staller     commits, then never delivers, renewing forever (Stall)
//	saboteur    reports every task it leases as failed (Sabotage)
//	squatter    takes every lease the publisher grants and renews them
//	            all, rendering nothing (Squat), its renewals reporting the
//	            render half done or, with Progress, any share of it
//
// and, at the protocol level, DeliverJunk delivers any bytes for any
// lease (the junk deliverer), and HostilePublisher is a fake publisher,
// built on work.Handler, that serves real volunteers a job whose scene
// nobody seeds and answers their renewals.
//
// How the copier looks for results: a result shared as an asset is named
// frame_NNNN_tileTT.png and provided on the DHT. A DHT server receives the
// ADD_PROVIDER and GET_PROVIDERS requests for keys near it — in a small
// swarm, for every key — so the copier taps the DHT requests its own node
// serves (watch.go), fetches every asset named there, and reads the frame
// from the file name. Under protocol 1 volunteers shared their results so
// before the publisher accepted them; under protocol 2 only the publisher
// shares a result, once accepted, by when no replica of its task is open.
//
// # The protocol it speaks
//
// Every exchange the kit makes is in wire.go (work protocol 2: commit,
// await, the image's bytes on the delivery stream). The attack tests were
// written against protocol 1 and each failed there, for the attack it
// plays — a copier paid for copied frames, a Sybil pair holding both
// replicas of every task, an inflated claim paid 2^53−1 mCU, a caught
// cheater accepted alone on its next job, agreement accepted when the
// crop render failed, a staller holding its task, two saboteurs failing a
// job, a squatter holding four leases, junk fetched before the lease was
// checked, a volunteer fetching a hostile publisher's scene for ever —
// and pass against protocol 2.
//
// Only tests, benchmarks and test programs (cmd/rsadversary) may import
// this package (test/deps_test.go). It plays peers over p2p, assets and
// work; it never imports node, cmd, gui, publisher or volunteer.
package adversary
