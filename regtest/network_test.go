package regtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
)

func TestPayAliceToBob(t *testing.T) {
	n := regtesttest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := regtesttest.Pay(t, ctx, n.Node(regtest.Alice), n.Node(regtest.Bob), 10_000)
	if p.ValueSat != 10_000 {
		t.Fatalf("paid %d sat, want 10000", p.ValueSat)
	}
}
