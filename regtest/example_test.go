package regtest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/l402chaos/l402chaos/regtest"
)

// Start a network from a snapshot, pay bob from alice, and crash bob.
func ExampleStart() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n, err := regtest.Start(ctx, regtest.WithSnapshot(true))
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()

	alice, bob := n.Node(regtest.Alice), n.Node(regtest.Bob)
	inv, err := bob.AddInvoice(ctx, 1000, "example")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := alice.Pay(ctx, inv.PaymentRequest); err != nil {
		log.Fatal(err)
	}
	if err := bob.Kill(); err != nil { // a crash: SIGKILL
		log.Fatal(err)
	}
	if err := bob.Start(ctx); err != nil { // same data dir
		log.Fatal(err)
	}
	if err := n.WaitReady(ctx); err != nil { // channels carry payments again
		log.Fatal(err)
	}
	fmt.Println("paid, crashed, recovered")
}
