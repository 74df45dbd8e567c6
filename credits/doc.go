// Package credits decides whether rendered results can be trusted (and, as
// it grows, keeps receipts, the ledger and priorities). It is pure logic: it
// holds no sockets, reads no clock and starts no goroutines, so the same code
// runs in the node, in tests and in simulations. It imports job and the
// standard library only; never p2p, assets, render, node or gui.
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
package credits
