// Package credits decides whether rendered results can be trusted, prices
// them in compute units, keeps the signed receipts that record who rendered
// for whom in a ledger, and turns receipts into priorities. It is pure logic
// over a database handle: it holds no sockets, reads no clock (time is passed
// in) and starts no goroutines, so the same code runs in the node, in tests
// and in simulations. It imports the standard library, job, internal/db,
// go-cid and libp2p's core/peer and core/crypto only; never p2p, assets,
// render, node or gui (deps_test.go keeps it so).
//
// # Verification pipeline (DESIGN.md §5)
//
// A result is a PNG for one task. The coordinator:
//
//  1. Sanity: Decode reads the PNG header first and refuses anything that is
//     not exactly the expected size before decoding pixels (ErrUndecodable,
//     ErrWrongSize); Sanity refuses a constant image (ErrConstant). A blank
//     frame is the cheapest cheat, but a fade to black is legitimate: a
//     constant result is never accepted on one replica alone — replicate the
//     task and accept it only when replicas agree exactly.
//  2. Exact: Digest hashes the decoded pixels (never the file bytes, whose
//     metadata differs between honest renders). The volunteer committed to
//     sha256(salt ‖ digest) before revealing anything; CheckCommitment checks
//     the revealed salt and digest against it.
//  3. Tolerant: Compare applies the manifest's verification Profile to two
//     replicas and returns a Comparison with the metrics below. Equal digests
//     always match; the builtin renderer's profile accepts nothing else.
//  4. Quorum: Decide (or DecideImages) picks the canonical result once enough
//     replicas agree, asks for another replica when they do not, and names
//     the losers of a majority vote (2-of-3). A mismatch alone never punishes
//     anyone: only losing a majority vote does.
//
// # Pixel digest (version 1)
//
// Digest is SHA-256 over: width and height as big-endian uint32, then every
// pixel row from top to bottom, every pixel left to right, as four bytes R, G,
// B, A — 8-bit, non-premultiplied, each pixel converted by color.NRGBAModel
// (the identity for 8-bit RGBA PNGs; 16-bit channels keep their high byte).
// Nothing else (no gamma, no metadata) enters the digest.
//
// # Metrics
//
// For two images of the same size with N pixels, channel differences are in
// 8-bit units:
//
//   - Off8, Off32: pixels where any of R, G, B, A differs by more than 8
//     (resp. 32);
//   - PSNR: 10·log10(255² / MSE) with the MSE over the R, G and B channels of
//     all pixels, capped at MaxPSNR (also the value for identical colours);
//   - WorstTilePSNR: the least PSNR over 32×32 windows laid on a 32-pixel
//     grid from the top left, with the last row and column of windows moved
//     in to end at the image edge so every window is full size (on a side
//     shorter than 32 the window spans the side);
//   - LumaBias: the mean over all pixels of Y(a) − Y(b) with Rec. 709 luma
//     Y = 0.2126 R + 0.7152 G + 0.0722 B; profiles bound its absolute value.
//
// # Compute units (DESIGN.md §6)
//
// 1 CU is one second of rendering on a reference machine, per renderer
// family; amounts are int64 milli-CU everywhere. A node benchmarks each
// renderer once (Speed: reference time ÷ measured time, clamped to
// [1/64, 64]) and prices a render with Units(seconds, speed), so a frame is
// worth the same on any machine. The publisher keeps a JobCosts per job and
// pays each accepted result Pay(claim): the claim, capped (Cap, from the
// manifest's time limit), then clipped to the lower median of the job's
// capped claims so far. Overstating time pays nothing once a job has three
// or more claims; the first claim is bounded only by Cap and the second by
// the lesser of the two. ClipToMedian does the same for a batch.
//
// # Receipts (format version 1)
//
// For each accepted result the publisher issues a Receipt of its pair with
// the volunteer: Seq 1, 2, 3… per pair, CU of this result, the pair's
// running Total including it, the Task and Result CIDs (anyone can audit a
// receipt by re-rendering a crop), and Issued (Unix seconds). Its canonical
// bytes follow job's conventions: compact json.Marshal output with the fields
// in the fixed order
//
//	{"v":1,"publisher":"<peer ID>","volunteer":"<peer ID>","seq":N,
//	 "task":"<job ID>/<frame>/<tile>","result":"<CIDv1 base32>",
//	 "cu":N,"total":N,"issued":N}
//
// (one line, no spaces), integers only, at most MaxReceiptSize bytes.
// UnmarshalReceipt accepts exactly those bytes, re-encoding what it decoded
// and comparing. Validate requires Ed25519 identity peer IDs for two
// distinct parties, 1 ≤ Seq, 0 ≤ CU ≤ Total ≤ 2^53−1, Total = CU when Seq
// is 1, a job ID, an asset CID and 1 ≤ Issued ≤ job.MaxTime. A receipt's
// ID is CIDv1(json, sha2-256(canonical bytes)), like a job ID.
//
// The publisher signs ReceiptSigningDomain ("renderswarm/receipt/v1\x00")
// ‖ canonical bytes; the volunteer countersigns CountersignDomain
// ("renderswarm/receipt-countersign/v1\x00") ‖ canonical bytes ‖ the
// publisher's 64-byte signature, so a countersignature acknowledges one
// exact signed receipt and neither signature is valid in the other role or
// for a manifest. Signers are the parties named in the receipt. The wire
// form is {"receipt":<canonical bytes>,"sig":"<base64>"} with
// ,"countersig":"<base64>" once countersigned, at most MaxSignedReceiptSize
// bytes; OpenReceipt accepts only that exact form and verifies it.
//
// # Ledger
//
// A Ledger keeps receipts in the node's database (table credits_receipts,
// migrations embedded under migrations/, component "credits"), as signed
// bytes plus decoded columns, keyed by (publisher, volunteer, seq) and
// unique per (publisher, volunteer, task). It is the only writer of its
// table; a mutex makes reading and extending a chain atomic.
//
//   - Publisher: Issue assigns the pair's next Seq and Total, signs and
//     stores the receipt as pending, and refuses a second receipt for a task
//     and volunteer (ErrAlreadyIssued), across restarts too. PendingFor lists
//     what to (re)send; RecordCountersigned stores the countersignature.
//   - Volunteer: Accept verifies the publisher's signature, that the receipt
//     names this node, and that it fits the chain held for the pair: no
//     other receipt with its Seq or task, and with the nearest held receipts
//     before and after it, Total grows by at least the later receipt's CU,
//     exactly by it when their Seqs are adjacent (ErrChainConflict
//     otherwise). Gaps are fine: a lost receipt loses nothing, since later
//     Totals include it. It then countersigns, stores and returns the
//     receipt; accepting a held receipt again returns the stored copy.
//   - Learn stores countersigned receipts of other pairs the node was shown,
//     checked the same way, for Priority.
//
// Balance sums, per counterpart, the Total of the latest receipt: Earned
// where this node is the volunteer, Spent where it is the publisher,
// counting issued receipts whether or not they are countersigned (the
// publisher's signature alone proves the debt). Receipts lists this node's
// receipts newest first for the GUI.
//
// # Priority (DESIGN.md §6)
//
// Each volunteer computes priorities locally from the receipts it holds
// (Ledger.Priority, or Priority over any verified receipts): its own jobs
// first (+Inf); then peers by net contribution in CU — work that reached the
// evaluator along receipt edges of at most two hops, minus the evaluator's
// work that reached them — with each intermediary's real work shared among
// those routed through it, so fake identities minting receipts among
// themselves gain nothing and fakes behind one honest worker split its real
// work. Publishers named by no receipt are newcomers, who get the picker's
// share of newcomer slots (scheduler.PickerConfig). See Priority for the
// formula.
package credits
