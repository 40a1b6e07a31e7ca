package regtest_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/regtest"
)

// TestMain builds (or finds in the cache) the lnd and btcd binaries once,
// so that a cold build shows its progress here rather than inside a test's
// timeout.
func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	bins, err := regtest.EnsureBinaries(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "regtest: binaries:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "regtest: lnd %s at %s, btcd %s at %s\n", bins.LNDVersion, bins.LND, bins.BtcdVersion, bins.Btcd)
	os.Exit(m.Run())
}
