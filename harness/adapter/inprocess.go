package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"google.golang.org/grpc"
)

// InProcessConfig is where the in-process client keeps its journals and
// which LND node it pays with.
type InProcessConfig struct {
	// StateRoot holds one journal per client instance,
	// StateRoot/instance-<n>, as the exec adapter lays them out.
	StateRoot string `json:"state_root"`
	// The payer's LND.
	RPCServer    string `json:"rpc_server"`
	TLSCertPath  string `json:"tls_cert_path"`
	MacaroonPath string `json:"macaroon_path"`
	// Logger receives the client library's logs. Default: discard.
	Logger *slog.Logger `json:"-"`
}

// InProcess is the reference client library as the client under test,
// called in this process: the fastest way to run scenarios, and a second
// path to the same mapping of outcomes as `chaos client`. It cannot be
// killed as a process can, so it is no harness.Killer; scenarios that kill
// the client need Exec.
type InProcess struct {
	cfg InProcessConfig
	log *slog.Logger

	mu        sync.Mutex
	instances map[int]*instance
	closed    bool
	inflight  sync.WaitGroup
}

var _ harness.Client = (*InProcess)(nil)

// defaultMaxCostSat is the cap of a purchase without one: the protocol's
// default (client.ReadAdapterEnv's).
const defaultMaxCostSat = 1000

// instance is one client instance: a journal and a connection to the
// payer, as one `chaos client` process would have.
type instance struct {
	store *client.Store
	conn  *grpc.ClientConn
	payer client.Payer
}

// NewInProcess checks cfg and prepares the client. Instances open on
// their first purchase.
func NewInProcess(ctx context.Context, cfg InProcessConfig) (*InProcess, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("new in-process client: %w", err)
	}
	if cfg.StateRoot == "" {
		return nil, errors.New("new in-process client: no state root")
	}
	if cfg.RPCServer == "" || cfg.TLSCertPath == "" || cfg.MacaroonPath == "" {
		return nil, errors.New("new in-process client: the payer's RPCServer, TLSCertPath and MacaroonPath are all required")
	}
	// Read the credentials now, so a wrong path fails here rather than at
	// the first purchase (the connection itself is lazy).
	conn, err := regtest.Dial(cfg.RPCServer, cfg.TLSCertPath, cfg.MacaroonPath)
	if err != nil {
		return nil, fmt.Errorf("new in-process client: %w", err)
	}
	_ = conn.Close()
	if err := os.MkdirAll(cfg.StateRoot, 0o700); err != nil {
		return nil, fmt.Errorf("new in-process client: state root: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &InProcess{cfg: cfg, log: log, instances: map[int]*instance{}}, nil
}

// StateDir is an instance's journal directory.
func (c *InProcess) StateDir(n int) string {
	return filepath.Join(c.cfg.StateRoot, fmt.Sprintf("instance-%d", n))
}

// Purchase runs one attempt for p as `chaos client` does, with a client
// capped at p.MaxCostSat over the instance's journal and bounded by
// p.Timeout: client.AdapterAttempt (Recover, then Do), reported by
// client.ReportFor. The Result's ExitCode is 0 and Killed false: there is
// no process. An error means the client could not be set up (the journal
// did not open): nothing was attempted.
//
// As in `chaos client`, each attempt first recovers the instance's
// unfinished purchases, so it may wait for a purchase another attempt is
// working on to finish before starting its own (exec attempts sharing a
// journal wait for each other's whole run: only one process can open it).
func (c *InProcess) Purchase(ctx context.Context, p harness.Purchase) (history.Result, error) {
	method, err := checkPurchase(p)
	if err != nil {
		return history.Result{}, fmt.Errorf("purchase %.64q: %w", p.Key, err)
	}
	inst, err := c.instance(p.Instance)
	if err != nil {
		return history.Result{}, fmt.Errorf("purchase %.64q: %w", p.Key, err)
	}
	defer c.inflight.Done()
	timeout := p.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	log := c.log.With("instance", p.Instance)
	maxCost := p.MaxCostSat
	if maxCost == 0 {
		maxCost = defaultMaxCostSat
	}
	cl, err := client.New(inst.payer, inst.store, client.WithMaxCost(maxCost*1000), client.WithLogger(log))
	if err != nil {
		return history.Result{}, fmt.Errorf("purchase %.64q: %w", p.Key, err)
	}
	env := client.AdapterEnv{
		URL: p.URL, Method: method, Body: p.Body, Key: p.Key, StateDir: inst.store.Dir(),
		MaxCostSat: maxCost, Timeout: timeout,
		LNDRPCServer: c.cfg.RPCServer, LNDTLSCertPath: c.cfg.TLSCertPath, LNDMacaroonPath: c.cfg.MacaroonPath,
	}
	return ResultOf(client.ReportFor(cl.AdapterAttempt(ctx, env))), nil
}

// instance opens instance n on first use and counts a purchase in
// flight (the caller calls c.inflight.Done) when it returns no error.
func (c *InProcess) instance(n int) (*instance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if inst := c.instances[n]; inst != nil {
		c.inflight.Add(1)
		return inst, nil
	}
	store, err := client.OpenStore(c.StateDir(n))
	if err != nil {
		return nil, fmt.Errorf("instance %d: %w", n, err)
	}
	conn, err := regtest.Dial(c.cfg.RPCServer, c.cfg.TLSCertPath, c.cfg.MacaroonPath)
	if err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("instance %d: %w", n, err)
	}
	payer, err := client.NewLNDPayer(lnrpc.NewLightningClient(conn), routerrpc.NewRouterClient(conn))
	if err != nil {
		_ = conn.Close()
		_ = store.Close()
		return nil, fmt.Errorf("instance %d: %w", n, err)
	}
	inst := &instance{store: store, conn: conn, payer: payer}
	c.instances[n] = inst
	c.inflight.Add(1)
	return inst, nil
}

// Close refuses new purchases, waits for those running (each is bounded
// by its timeout and context), then closes every instance's journal and
// connection. It is idempotent.
func (c *InProcess) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.inflight.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for n, inst := range c.instances {
		if err := inst.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("instance %d: %w", n, err))
		}
		if err := inst.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("instance %d: %w", n, err))
		}
		delete(c.instances, n)
	}
	return errors.Join(errs...)
}
