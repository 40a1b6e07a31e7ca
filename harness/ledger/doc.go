// Package ledger copies a fake provider's ledger into the harness's
// ground truth. Both backends use it: the live one, which reads the
// ledger over the provider's control API, and the simulator, which reads
// it from the provider running on the model.
//
// It imports only harness/history and fakeprovider, so that the
// simulator does not link the live backend (toxiproxy, the regtest
// network) to read a ledger.
package ledger
