package regtest

import "time"

// Every timeout and polling interval of the package lives here, so that a
// slow machine needs one edit and a reader sees the whole budget at once.
const (
	// pollInterval is how often Until retries a condition.
	pollInterval = 50 * time.Millisecond

	// btcdReadyTimeout bounds how long btcd may take to answer RPC.
	btcdReadyTimeout = 30 * time.Second

	// lndReadyTimeout bounds how long an LND node may take to reach
	// SERVER_ACTIVE and sync to the chain tip.
	lndReadyTimeout = 20 * time.Second

	// channelReadyTimeout bounds opening, confirming and activating the
	// channels of a topology, and the first routable probe.
	channelReadyTimeout = 90 * time.Second

	// probeTimeout bounds one routing probe.
	probeTimeout = 15 * time.Second

	// stopTimeout is how long a graceful stop may take before the
	// process group is killed.
	stopTimeout = 20 * time.Second

	// rpcTimeout bounds a single RPC issued by the package itself.
	rpcTimeout = 15 * time.Second

	// progressEvery is how often a running binary build reports progress.
	progressEvery = 10 * time.Second
)
