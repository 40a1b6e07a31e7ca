package fakeprovider_test

import (
	"context"
	"fmt"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/regtest"
)

// A provider on bob, with a knob that loses the answer of the next paid
// POST after its side effect has run.
func ExampleStart() {
	ctx := context.Background()
	n, err := regtest.Start(ctx, regtest.WithSnapshot(true))
	if err != nil {
		panic(err)
	}
	defer n.Close()
	bob := n.Node(regtest.Bob)
	p, err := fakeprovider.Start(ctx, fakeprovider.NewLND(bob.LN(), bob.Invoices()), fakeprovider.DefaultConfig())
	if err != nil {
		panic(err)
	}
	defer p.Close()

	ctl, _ := fakeprovider.NewControl(p.ControlURL(), nil)
	ctl = ctl.WithToken(p.ControlToken())
	k, err := ctl.Arm(ctx, fakeprovider.Knob{
		Kind:  fakeprovider.ErrorAfter,
		Match: fakeprovider.Match{Method: "POST", Path: "/ops/*", Credentialed: true},
		Times: 1,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("armed", k.ID, "on", p.URL()+"/ops/")

	// ... run a client against p.URL(), then read the ground truth:
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	snap, _ := ctl.Ledger(lctx)
	fmt.Println(len(snap.SideEffects), "side effects,", len(snap.Deliveries), "deliveries")
}
