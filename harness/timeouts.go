package harness

import "time"

// Timeouts of the run loop (Session and Runner), in one place.
const (
	// healTimeout bounds one Heal.
	healTimeout = 30 * time.Second
	// truthTimeout bounds collecting the ground truth.
	truthTimeout = 60 * time.Second
)
