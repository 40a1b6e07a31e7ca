package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/adapter"
)

// A client is any command that reads the purchase from its environment
// and prints one JSON report as the last line of stdout. This one claims
// a delivery without buying anything.
func ExampleExec() {
	root, err := os.MkdirTemp("", "adapter-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(root)

	command := []string{"/bin/sh", "-c", `echo "buying $L402_URL" >&2
echo '{"outcome":"delivered","status":200,"paid_msat":100000}'`}
	e, err := adapter.NewExec(command, adapter.ExecConfig{
		StateRoot: root, RPCServer: "127.0.0.1:10009", TLSCertPath: "/lnd/tls.cert", MacaroonPath: "/lnd/admin.macaroon",
	})
	if err != nil {
		panic(err)
	}
	defer e.Close()

	res, err := e.Purchase(context.Background(), harness.Purchase{
		Key: "k1", URL: "http://127.0.0.1:8080/data/p/k1", MaxCostSat: 1000, Timeout: 10 * time.Second,
	})
	fmt.Println(res.Outcome, res.Status, res.PaidMsat, err)

	// A client that prints no report: the attempt may have happened.
	e, err = adapter.NewExec([]string{"/bin/sh", "-c", "echo paying...; exit 0"}, adapter.ExecConfig{
		StateRoot: root, RPCServer: "127.0.0.1:10009", TLSCertPath: "/lnd/tls.cert", MacaroonPath: "/lnd/admin.macaroon",
	})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	_, err = e.Purchase(context.Background(), harness.Purchase{Key: "k2", URL: "http://127.0.0.1:8080/data/p/k2"})
	fmt.Println(errors.Is(err, adapter.ErrNoReport))
	// Output:
	// delivered 200 100000 <nil>
	// true
}
