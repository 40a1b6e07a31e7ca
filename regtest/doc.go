// Package regtest runs a real regtest Lightning network on local processes:
// one btcd that mines on demand and named LND nodes, all on loopback with
// ephemeral ports, in one run directory.
//
//	     btcd (regtest, mines into the package's own key)
//	    /      |       \            websocket RPC, TLS
//	alice ---- carol ---- bob       LND nodes, p2p on loopback
//	 \__________________/           default topology: alice -> bob
//
// Start builds (or finds in the cache) the lnd and btcd binaries, starts
// btcd, mines past segwit activation (height 500), starts the nodes, funds
// every wallet from the miner's coinbases, opens the topology's channels
// and returns once a probe HTLC actually travels from alice to bob: a
// channel reported active can still fail its first payment, so readiness
// is proven by routing, not by flags. Every wait polls a condition
// (Until) and fails fast when a process dies; there are no fixed sleeps.
//
// # Processes
//
// Every child runs in its own process group and is killed as a group.
// Pdeathsig kills children if the owning process dies without cleaning up,
// and the run directory records its owner's pid so the next Start (or
// Sweep) removes directories left by dead owners. Close is idempotent.
//
// Nodes can be stopped gracefully, killed with SIGKILL, paused with
// SIGSTOP and resumed with SIGCONT, and restarted on the same data
// directory; Network.WaitReady waits until the channels carry payments
// again.
//
// # Snapshots and the block log
//
// WithSnapshot(true) starts from a copy of a saved funded, channel-ready
// network: restarting the nodes and reconnecting them takes about two
// seconds instead of building the network again. btcd in regtest mode
// deletes its block database every time it starts, so the chain keeps a
// log of every block it mined (blocks.dat) and submits the blocks again
// after each start; after a restore it mines one fresh block, because LND
// reports not-synced while the tip is older than two hours.
//
// # Interposed hops
//
// WithInterpose puts a proxy on two hops of every node, for network
// faults: inbound peer connections (p2p:<node>) and the node's btcd RPC
// (chain:<node>). The caller's function returns each hop's proxy address
// and is asked again when a hop's upstream changes (fresh ports, a
// restore); the node advertises its p2p proxy, so LND's own reconnections
// from the channel graph pass it too. Snapshots are made without proxies.
//
//	alice --> [p2p:bob] --> bob:listen      bob --> [chain:bob] --> btcd:rpc
//
// # Binaries
//
// lnd is built with `go build` from a throwaway module that requires the
// chosen lnd release and copies that release's replace directives (which
// is why `go install lnd@version` fails), with the tags in LNDTags, static
// (CGO_ENABLED=0). btcd is built at the version that lnd release pins.
// Both are cached under CacheDir by version, platform and tags.
// L402CHAOS_LND_BIN and L402CHAOS_BTCD_BIN point at existing binaries
// instead.
//
// Tests use the thin layer in regtesttest; library code never takes a
// *testing.T.
package regtest
