// Package volunteer is the volunteer role of a node: it renders other
// publishers' tasks. It keeps the jobs announced on the jobs topic (the
// offer book) and lets the scheduler's Picker rank them; its gate decides
// whether it may work now (paused, a daily schedule, only while the
// machine is idle); for each lease it fetches the scene, renders with a
// heartbeat to the publisher, commits to the pixels, delivers the result
// in the background while the next task renders, and collects and
// countersigns its receipts.
//
// A Volunteer speaks to publishers only through the typed work-protocol
// client (the Publishers interface, which work.Client satisfies), and gets
// the asset store, the announcements, the machine's idleness and a clock as
// small interfaces in its Config, so tests play a publisher against it
// with fakes and time they move by hand. It owns its settings and activity
// types; the node persists the settings and adapts both to the web app's.
//
// It imports job, work, p2p (the announcement message type), scheduler
// (the Picker), credits, render, assets (types only) and internal
// packages; never publisher, gui, node or cmd.
package volunteer
