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
//   - One verifier goroutine per job, fed by deliveries: every task is
//     decided exactly once, however many deliveries arrive while an earlier
//     task is being checked.
//   - The job store keeps the migration component key "node" (its table
//     was created when it lived there), so existing homes do not re-run it.
//     Version 2 of that key was the node's settings table: the next
//     migration here is 0003.
//   - A delivered image is fetched and decoded before the coordinator sees
//     it; the pixel digest the coordinator checks against the commitment is
//     always the publisher's own.
package publisher
