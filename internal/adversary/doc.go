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
//	            all, rendering nothing (Squat)
//
// and, at the protocol level, DeliverAsset delivers any asset for any
// lease (the junk deliverer), and HostilePublisher is a fake publisher,
// built on work.Handler, that serves real volunteers a job whose scene
// nobody seeds and answers their renewals.
//
// How the copier finds results: today a volunteer shares its result as an
// asset named frame_NNNN_tileTT.png and provides it on the DHT before the
// publisher accepts it (volunteer/deliver.go). A DHT server receives the
// ADD_PROVIDER and GET_PROVIDERS requests for keys near it — in a small
// swarm, for every key — so the copier taps the DHT requests its own node
// serves (watch.go), fetches every asset named there, and reads the frame
// from the file name. Any modified node can do the same.
//
// # Porting
//
// The work protocol is being rebuilt (commit, then a long poll until every
// replica committed, then the image's bytes on the delivery stream;
// Release as its own op; stricter leases, renewals and limits; prices set
// by the publisher). Every exchange the kit makes is in wire.go, so a port
// changes that file, the copier's source of results (watch.go) and
// DeliverAsset; the behaviours stay.
//
// # The switch
//
// An attack test asserts the secure behaviour, so it fails until its
// defence lands. RequireDefences skips it unless RENDERSWARM_ATTACKS=1 is
// set, so that CI on main stays green meanwhile; the defence work removes
// the call from each test as its defence lands.
//
// Only tests, benchmarks and test programs (cmd/rsadversary) may import
// this package (test/deps_test.go). It plays peers over p2p, assets and
// work; it never imports node, cmd, gui, publisher or volunteer.
package adversary
