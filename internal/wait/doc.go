// Package wait polls a condition until it holds or a context ends.
//
// It is a leaf package, needing only the standard library and
// github.com/cenkalti/backoff/v4 (itself standard library only), so that
// packages which only need to wait (the fake provider, the harness) do
// not link the regtest network and btcd's RPC client with it.
//
// Until calls the condition at once and then after a fixed pause; on
// timeout its error wraps both the context's error and the condition's
// last error. A condition that can never hold returns Permanent(err),
// and Until gives up at once with err.
package wait
