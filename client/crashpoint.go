package client

import (
	"fmt"
	"os"
	"strings"
	"time"

	gofail "go.etcd.io/gofail/runtime"
)

// Crash points are named places in the client's critical section where a
// test can make the process die, as a crash would: the process writes one
// line to stderr (CrashMarker and the point's name) and sends itself
// SIGKILL, so nothing after the point runs, deferred code included. They
// are etcd's gofail failpoints, inert unless the environment names them:
//
//	GOFAIL_FAILPOINTS='client/dispatched=return(true)'
//
// The harness sets that variable for one attempt of a purchase (see
// harness.Traffic.CrashAt) and leaves it out of the restart, which must
// then recover without paying twice. In the order a purchase meets them:
const (
	// CrashIntent: the purchase's intent is journalled; nothing is sent.
	CrashIntent = "intent"
	// CrashDispatched: the dispatch is journalled (the budget reserved),
	// the payment not yet handed to LND.
	CrashDispatched = "dispatched"
	// CrashPaymentSent: the payment request went to LND
	// (SendPaymentV2); its outcome has not been read.
	CrashPaymentSent = "payment-sent"
	// CrashPreimage: LND reported the payment settled; the preimage is in
	// memory only, not yet journalled.
	CrashPreimage = "preimage"
	// CrashTokenStored: the preimage and the token are journalled; the
	// credentialed request is not sent yet.
	CrashTokenStored = "settled"
	// CrashCredentialSent: the credentialed request is written to the
	// wire; its answer has not been read.
	CrashCredentialSent = "credential-sent"
	// CrashDelivered: the answer is journalled; the caller has not been
	// told.
	CrashDelivered = "delivered"
)

// CrashPoints lists the crash points in the order a purchase meets them.
func CrashPoints() []string {
	return []string{CrashIntent, CrashDispatched, CrashPaymentSent, CrashPreimage, CrashTokenStored, CrashCredentialSent, CrashDelivered}
}

// CrashMarker starts the line a process writes to stderr as it dies at a
// crash point, followed by the point's name.
const CrashMarker = "l402chaos: crash point reached: "

// CrashEnv is the environment variable that arms crash points (gofail's).
const CrashEnv = "GOFAIL_FAILPOINTS"

// CrashFailpoint is the gofail failpoint name of a crash point.
func CrashFailpoint(point string) string { return "client/" + point }

// CrashEnvValue is the CrashEnv value that makes a process die at point.
func CrashEnvValue(point string) string { return CrashFailpoint(point) + "=return(true)" }

// ArmCrashPoint arms a crash point in this process: the next time the
// client reaches it, the process dies. The adapter protocol's
// L402_CRASH_AT arms it for one attempt.
func ArmCrashPoint(point string) error {
	if _, ok := crashPoints[point]; !ok {
		return fmt.Errorf("%w: crash point %q: want one of %s", ErrAdapterConfig, point, strings.Join(CrashPoints(), ", "))
	}
	if err := gofail.Enable(CrashFailpoint(point), "return(true)"); err != nil {
		return fmt.Errorf("crash point %s: %w", point, err)
	}
	return nil
}

// crashPoints are the failpoints, registered once per process (gofail
// panics on a second registration of a name).
var crashPoints = func() map[string]*gofail.Failpoint {
	m := make(map[string]*gofail.Failpoint)
	for _, p := range CrashPoints() {
		m[p] = gofail.NewFailpoint(CrashFailpoint(p))
	}
	return m
}()

// crashArmed reports whether a crash point is armed in this process.
func crashArmed(point string) bool {
	if _, ok := crashPoints[point]; !ok {
		return false
	}
	_, _, err := gofail.Status(CrashFailpoint(point))
	return err == nil
}

// crashAt kills the process if the crash point is armed; otherwise it
// does nothing (an unarmed failpoint is one read lock).
func crashAt(point string) {
	fp := crashPoints[point]
	if fp == nil {
		return
	}
	if _, err := fp.Acquire(); err != nil {
		return
	}
	fmt.Fprintf(os.Stderr, "%s%s\n", CrashMarker, point)
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill() // SIGKILL, as kill -9 from outside
	}
	for {
		time.Sleep(time.Hour) // the signal is on its way
	}
}
