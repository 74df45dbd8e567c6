package p2p

import (
	"log/slog"

	"github.com/libp2p/go-libp2p/core/host"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
)

// relayService runs a circuit v2 relay while the node is reachable, for
// peers behind NAT to reserve a slot on and be dialled through.
//
// go-libp2p's own EnableRelayService starts the relay only when AutoNAT v1
// finds the node public, which needs another public node with AutoNAT v1
// to dial it back: a swarm's first public node (often its only one, the
// bootstrap) never gets that verdict, since every peer it has is behind
// NAT. AutoNAT v2 asks any peer, NATed ones included, to dial one address
// back, so its confirmation of a public address counts as well
// (Node.Reachability).
//
// The relay keeps go-libp2p's default resources (relay.DefaultResources):
// each relayed connection carries at most 128 KiB each way for at most
// 2 minutes, then the relay closes it. A relay is a stranger's uplink;
// these limits are what a relay in any libp2p network grants, enough to
// carry renderswarm's work messages and to set up hole punching, not a
// stream of scene data (see doc.go for how assets cross them).
type relayService struct {
	h     host.Host
	log   *slog.Logger
	relay *relayv2.Relay
}

// set starts or stops the relay.
func (s *relayService) set(on bool) {
	switch {
	case on && s.relay == nil:
		r, err := relayv2.New(s.h)
		if err != nil {
			s.log.Warn("relayServiceFailed", "err", err)
			return
		}
		s.relay = r
		s.log.Info("relayServiceStarted")
	case !on && s.relay != nil:
		s.relay.Close()
		s.relay = nil
		s.log.Info("relayServiceStopped")
	}
}
