package p2p

import (
	"context"
	"errors"
	"fmt"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MaxMessageSize is the largest pub/sub message renderswarm sends or
// forwards. Announcements carry CIDs and summaries, never data.
const MaxMessageSize = 64 << 10

// ErrMessageTooLarge is returned by Publish for a message over
// MaxMessageSize (GossipSub would drop it silently).
var ErrMessageTooLarge = fmt.Errorf("pub/sub message over %d bytes", MaxMessageSize)

// Validator checks a message's payload from the peer that signed it. A
// non-nil error rejects the message: it is neither delivered nor forwarded,
// and the peer that sent it is penalized; an error wrapping ErrIgnore
// drops it without blaming the sender (a valid message over its author's
// budget, which honest peers forward too).
type Validator func(from peer.ID, data []byte) error

// ErrIgnore, wrapped in a Validator's error, drops a message without
// penalizing the peer that forwarded it.
var ErrIgnore = errors.New("message dropped")

// Message is a validated pub/sub message.
type Message struct {
	From peer.ID
	Data []byte
}

// Join joins topic, rejecting (before delivery or forwarding) messages that
// are unsigned, oversized, or refused by validate (nil accepts any payload),
// and forwards the topic's valid messages to its peers from then on.
func (n *Node) Join(topic string, validate Validator) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errors.New("p2p: node closed")
	}
	if _, ok := n.topics[topic]; ok {
		return fmt.Errorf("p2p: topic %s joined twice", topic)
	}
	err := n.ps.RegisterTopicValidator(topic, func(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		if len(m.Data) > MaxMessageSize {
			return pubsub.ValidationReject
		}
		if validate != nil {
			if err := validate(m.GetFrom(), m.Data); err != nil {
				n.log.Debug("pubsubMessageRejected", "topic", topic, "from", from, "err", err)
				if errors.Is(err, ErrIgnore) {
					return pubsub.ValidationIgnore
				}
				return pubsub.ValidationReject
			}
		}
		return pubsub.ValidationAccept
	})
	if err != nil {
		return fmt.Errorf("registering validator for %s: %w", topic, err)
	}
	t, err := n.ps.Join(topic)
	if err != nil {
		return fmt.Errorf("joining %s: %w", topic, err)
	}
	// Forward the topic's messages whether or not this node subscribes:
	// a node that only publishes (a publisher that does not volunteer, a
	// bootstrap node) is often the only direct link between its peers
	// behind NAT, which GossipSub never reaches through a relay.
	stop, err := t.Relay()
	if err != nil {
		t.Close()
		return fmt.Errorf("relaying %s: %w", topic, err)
	}
	n.topics[topic] = t
	n.relaying = append(n.relaying, stop)
	return nil
}

func (n *Node) topic(name string) (*pubsub.Topic, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.topics[name]
	if !ok {
		return nil, fmt.Errorf("p2p: topic %s not joined", name)
	}
	return t, nil
}

// Publish sends data on a joined topic.
func (n *Node) Publish(ctx context.Context, topic string, data []byte) error {
	if len(data) > MaxMessageSize {
		return ErrMessageTooLarge
	}
	t, err := n.topic(topic)
	if err != nil {
		return err
	}
	return t.Publish(ctx, data)
}

// Subscribe delivers validated messages of a joined topic from other peers
// to handle until ctx ends.
func (n *Node) Subscribe(ctx context.Context, topic string, handle func(Message)) error {
	t, err := n.topic(topic)
	if err != nil {
		return err
	}
	sub, err := t.Subscribe()
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", topic, err)
	}
	defer sub.Cancel()
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading %s: %w", topic, err)
		}
		if m.ReceivedFrom == n.host.ID() {
			continue
		}
		handle(Message{From: m.GetFrom(), Data: m.Data})
	}
}

// TopicPeers lists the peers known to be subscribed to a joined topic.
func (n *Node) TopicPeers(topic string) []peer.ID {
	t, err := n.topic(topic)
	if err != nil {
		return nil
	}
	return t.ListPeers()
}
