// Package clienttest has fakes for testing code that uses package client
// without a Lightning network:
//
//	Issuer ──mints──> macaroon + fake invoice ──> Payer's invoice table
//	   ^                                              │
//	   └── Verify(Authorization) <── client ──SendPayment (scripted:
//	                                           succeed, fail, hang,
//	                                           error after/before dispatch)
//
// Payer is a scriptable fake node (client.Payer and client.PaymentWaiter)
// that behaves like lnd where it matters: a second payment for a hash in
// flight or settled is refused with gRPC AlreadyExists, tracking an
// unknown hash says not found, and every SendPayment call is recorded
// with the node's state at that moment, so a test can prove that no
// payment started while another of the same purchase was unresolved.
// Clock never sleeps: After moves time forward at once and records the
// delay. Issuer mints real L402 macaroons (aperture's version 0
// identifier) in every challenge generation and checks credentials the
// way a server would.
//
// Nothing here takes a *testing.T; callers decide how to fail.
package clienttest
