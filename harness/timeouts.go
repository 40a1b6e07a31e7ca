package harness

import "time"

// Timeouts of the run loop (Session and Runner), in one place.
const (
	// healTimeout bounds one Heal.
	healTimeout = 30 * time.Second
	// truthTimeout bounds collecting the ground truth.
	truthTimeout = 60 * time.Second
	// lateTriggerTimeout bounds the wait for the trigger of a purchase
	// that starts after the ones before it have ended: what they did
	// has happened, and a phase they did not reach (a purchase that was
	// not delivered) is not coming.
	lateTriggerTimeout = 20 * time.Second
)
