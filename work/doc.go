// Package work is the work protocol between volunteers and publishers:
// the job announcements gossiped on JobsTopic, and the request/response
// exchanges over Protocol — Lease, Renew, Commit, Deliver, Fail, Release,
// receipt collection and countersigning — with the timings both sides
// share (LeaseTTL, RenewEvery, AnnounceEvery) beside the wire messages.
//
// Client is the typed client a volunteer uses; Handler turns a Server (a
// publisher) into the stream handler p2p serves. Job IDs, result CIDs,
// commitments and receipts are parsed once here, at the wire edge, and
// travel as their own types (cid.Cid, job.Commitment,
// credits.SignedReceipt) from then on.
//
// Everything decoded here comes from strangers: messages are decoded
// strictly (unknown fields, trailing data and oversized input are
// refused) and validated before use; a lease grant must name a task of the
// signed manifest it carries, published by the peer that granted it.
//
// The wire (protocol /renderswarm/work/2): one request and one response per
// stream, each a compact JSON object (Request, Response). An answered error
// reaches the caller as a refusal (Refused reports it); an unreachable
// publisher is not a refusal. A delivery's PNG follows its request only
// once the publisher asks for it (p2p.Body). A commitment may travel with
// its result (CommitDeliver): the publisher records it first and asks for
// the PNG only when the result may be revealed at once, so a volunteer
// whose task has no other replica out commits and delivers in one exchange.
//
// It imports job, credits (receipts), p2p (the transport's Handler and
// RemoteError), go-cid and libp2p's core packages; never node, publisher,
// volunteer, gui, assets, render or scheduler.
package work
