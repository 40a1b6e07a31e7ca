// Package k8s holds the Kubernetes manifests of a sharded run (an
// Indexed Job of shards, a merge Job, the results volume) and the test
// that decodes them strictly into k8s.io/api's types and checks that
// they fit together. It is a module of its own so that the main module
// does not carry Kubernetes' dependency tree.
package k8s
