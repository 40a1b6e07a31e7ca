package live

import (
	"context"
	"fmt"
	"sync"

	"github.com/lightningnetwork/lnd/lnrpc"

	"github.com/l402chaos/l402chaos/harness"
)

// phases counts the payment phases seen, once per payment hash (or other
// identity), and wakes waiters when a count grows.
type phases struct {
	mu      sync.Mutex
	seen    map[harness.Phase]map[string]bool // ids seen, for repeats
	counts  map[harness.Phase]int             // outlives a forgotten id
	issued  map[string]bool                   // invoice hashes the provider challenged with
	changed chan struct{}
}

func newPhases() *phases {
	return &phases{seen: map[harness.Phase]map[string]bool{}, counts: map[harness.Phase]int{}, issued: map[string]bool{}, changed: make(chan struct{})}
}

// hit records phase p for id; a repeat is ignored.
func (p *phases) hit(ph harness.Phase, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hitLocked(ph, id)
}

func (p *phases) hitLocked(ph harness.Phase, id string) {
	m := p.seen[ph]
	if m == nil {
		m = map[string]bool{}
		p.seen[ph] = m
	}
	if m[id] {
		return
	}
	m[id] = true
	p.counts[ph]++
	close(p.changed)
	p.changed = make(chan struct{})
}

// occur records one more occurrence of a phase that has no identity of
// its own (every side effect, every delivery counts).
func (p *phases) occur(ph harness.Phase) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[ph]++
	close(p.changed)
	p.changed = make(chan struct{})
}

// forget drops the ids of hashes a long run will not see again; the
// counts stay.
func (p *phases) forget(hashes []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range hashes {
		delete(p.issued, h)
		for _, m := range p.seen {
			delete(m, h)
		}
	}
}

// challenge records an invoice the provider issued: only payments of
// those count as the client's.
func (p *phases) challenge(hash string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.issued[hash] = true
	p.hitLocked(harness.ChallengeIssued, hash)
}

// payment records a payer payment's status, if it pays a challenge.
func (p *phases) payment(hash string, st lnrpc.Payment_PaymentStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.issued[hash] {
		return // a probe, a drain: not the client's
	}
	switch st {
	case lnrpc.Payment_IN_FLIGHT:
		p.hitLocked(harness.PaymentInFlight, hash)
	case lnrpc.Payment_SUCCEEDED:
		p.hitLocked(harness.PaymentInFlight, hash)
		p.hitLocked(harness.PreimageReceived, hash)
	}
}

// count is how many times phase ph has been seen.
func (p *phases) count(ph harness.Phase) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[ph]
}

// await blocks until phase ph has been seen n times.
func (p *phases) await(ctx context.Context, ph harness.Phase, n int) error {
	if n < 1 {
		n = 1
	}
	for {
		p.mu.Lock()
		got, ch := p.counts[ph], p.changed
		p.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("await %s x%d (seen %d): %w: %w", ph, n, got, harness.ErrNotTriggered, ctx.Err())
		}
	}
}
