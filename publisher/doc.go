// Package publisher is the publisher role of a node: everything it does for
// the jobs it published. Publish packs a scene and the files it uses,
// shares them as one asset, signs the manifest and announces it; the work
// protocol's server side (server.go) hands out leases, takes heartbeats,
// commitments and results; one verifier per job (verify.go, to be read top
// to bottom) compares the replicas of each task, crop-checks accepted
// results with the publisher's own renderer, resolves the task and issues
// receipts; the job store keeps every job across restarts; and status,
// frames and fetch report and write out the verified frames.
//
// A Publisher gets its dependencies as small interfaces (Assets, Network)
// and a clock from its Config, so tests play volunteers against it with
// fakes and time they move by hand. It imports job, scheduler, credits,
// render, work, assets (types only) and internal packages; never volunteer,
// gui, node or cmd (test/deps_test.go keeps it so).
//
// Decisions:
//   - One verifier goroutine per job, fed by deliveries; each of its passes
//     hands the tasks whose replicas are all in to one worker per core, one
//     task to one worker, and waits for them: every task is decided exactly
//     once, however many deliveries arrive while earlier tasks are being
//     checked, and crop checks of different tasks run in parallel.
//   - Everything a request changes is written in one group commit
//     (writer.go): the coordinator's changed task rows, the volunteers'
//     claims and the meetings of peers; a pass's receipts share one
//     transaction (credits.Ledger.IssueAll).
//   - The job store keeps the migration component key "node" (its table
//     was created when it lived there), so existing homes do not re-run it.
//     Version 2 of that key was the node's settings table: the next
//     migration here is 0003.
//   - A delivered image comes on the delivery stream and is decoded before
//     the coordinator sees it; the pixel digest the coordinator checks
//     against the commitment is always the publisher's own. It is shared as
//     an asset only once accepted.
//   - Lease requests that get no work are rate-limited per peer; granted
//     ones are not (a peer's uncommitted leases bound it).
package publisher
