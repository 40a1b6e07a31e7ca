// Package archtest keeps the house's arrows pointing down: its test reads
// the module's import graph (go list) and fails when a package depends on
// one it must not, e.g. when the standalone provider links the regtest
// network, the simulator links toxiproxy or the live backend, or a leaf
// (history, check) imports the harness. It has no code of its own.
package archtest
