package client

// WithHook exposes withHook to the external tests: h runs after every
// journal step and right after SendPayment returns.
func WithHook(h func(point string)) Option { return withHook(h) }

// WithoutSync turns fsync off, for tests that simulate crashes in-process
// (where the page cache survives) and open thousands of journals.
func WithoutSync() StoreOption {
	return func(c *storeConfig) error {
		c.noSync = true
		return nil
	}
}
