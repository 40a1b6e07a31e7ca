package regtest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/rpcclient"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/l402chaos/l402chaos/internal/wait"
)

// btcd's RPC credentials. The network is local regtest, and fixed values
// are what a user pointing a tool at it would want.
const (
	btcdUser = "l402chaos"
	btcdPass = "l402chaos"

	// coinbaseMaturity is the number of confirmations before a coinbase
	// output can be spent.
	coinbaseMaturity = 100

	// fundingFee is the fee of a wallet funding transaction: far above the
	// minimum relay fee for its size, so it is always accepted.
	fundingFee = btcutil.Amount(50_000)
)

// ErrNoFunds reports that the miner has no mature coinbase left to spend.
var ErrNoFunds = errors.New("miner has no mature coinbase to spend")

var netParams = &chaincfg.RegressionNetParams

// Chain is the network's btcd: a regtest node that mines on demand into a
// key the package holds, and pays from those coinbases to fund wallets.
type Chain struct {
	dir      string
	bin      string
	sandbox  Sandbox
	rpc      Endpoint
	p2p      Endpoint
	certPath string
	log      *slog.Logger

	miner  *minerWallet
	mineMu sync.Mutex // serializes mining with the block log
	proc   Proc

	clientMu sync.Mutex
	client   *rpcclient.Client // nil before btcd answers and once stopped
}

// ErrChainStopped: btcd's RPC client is gone (the network was closed
// while a call was on its way).
var ErrChainStopped = errors.New("btcd stopped")

// rpcClient is btcd's RPC client, bound once per call: a call racing
// with stop gets ErrChainStopped (or the client's own shutdown error),
// never a nil client.
func (c *Chain) rpcClient() (*rpcclient.Client, error) {
	c.clientMu.Lock()
	defer c.clientMu.Unlock()
	if c.client == nil {
		return nil, ErrChainStopped
	}
	return c.client, nil
}

// RPCAddr is btcd's JSON-RPC address as this process dials it (TLS,
// user and password l402chaos).
func (c *Chain) RPCAddr() string { return c.rpc.Host }

// RPCPeerAddr is btcd's JSON-RPC address as the network's nodes dial
// it: RPCAddr for local processes, btcd's own address in a container
// network.
func (c *Chain) RPCPeerAddr() string { return c.rpc.Peer }

// P2PAddr is btcd's peer-to-peer address as this process dials it.
func (c *Chain) P2PAddr() string { return c.p2p.Host }

// CertPath is the path of btcd's RPC TLS certificate.
func (c *Chain) CertPath() string { return c.certPath }

// Credentials returns btcd's RPC user and password.
func (c *Chain) Credentials() (user, pass string) { return btcdUser, btcdPass }

// Pid is btcd's process id.
func (c *Chain) Pid() int { return c.proc.Pid() }

// LogPath is the file btcd's output goes to.
func (c *Chain) LogPath() string { return filepath.Join(c.dir, "btcd.out") }

// btcd's own ports, which an isolated runtime publishes.
const (
	btcdRPCPort = 18334
	btcdP2PPort = 18444
)

// startChain starts btcd in dir (reusing its chain if dir holds one) and
// waits until it answers RPC.
func startChain(ctx context.Context, sb Sandbox, bin, dir string, log *slog.Logger) (*Chain, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create btcd dir: %w", err)
	}
	miner, err := loadMinerWallet(filepath.Join(dir, "miner.json"))
	if err != nil {
		return nil, err
	}
	c := &Chain{dir: dir, bin: bin, sandbox: sb, certPath: filepath.Join(dir, "rpc.cert"), log: log, miner: miner}
	if err := writeRPCCert(c.certPath, filepath.Join(dir, "rpc.key"), sb); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// CertHoster is a sandbox whose programs reach btcd at addresses other
// than loopback (a container network's); btcd's RPC certificate must name
// every one of them, proxies in between included.
type CertHoster interface {
	CertHosts() []string
}

// writeRPCCert makes btcd's RPC certificate before btcd starts (btcd
// would make one for the addresses it has, if there were none): for
// loopback and the sandbox's addresses. A restored snapshot's would name
// the addresses of the network it was made on; the nodes, started after
// btcd, read the new one.
func writeRPCCert(certPath, keyPath string, sb Sandbox) error {
	hosts := []string{"localhost", "127.0.0.1"}
	if h, ok := sb.(CertHoster); ok {
		hosts = append(hosts, h.CertHosts()...)
	}
	cert, key, err := btcutil.NewTLSCertPair("l402chaos regtest", time.Now().Add(10*365*24*time.Hour), hosts)
	if err != nil {
		return fmt.Errorf("btcd rpc certificate: %w", err)
	}
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		return fmt.Errorf("btcd rpc certificate: %w", err)
	}
	if err := os.WriteFile(certPath, cert, 0o644); err != nil {
		return fmt.Errorf("btcd rpc certificate: %w", err)
	}
	return nil
}

func (c *Chain) start(ctx context.Context) error {
	var err error
	if c.rpc, err = c.sandbox.Endpoint("btcd", btcdRPCPort); err != nil {
		return err
	}
	if c.p2p, err = c.sandbox.Endpoint("btcd", btcdP2PPort); err != nil {
		return err
	}
	args := []string{
		"--regtest",
		"--datadir=" + filepath.Join(c.dir, "data"),
		"--logdir=" + filepath.Join(c.dir, "logs"),
		"--rpcuser=" + btcdUser,
		"--rpcpass=" + btcdPass,
		"--rpclisten=" + c.rpc.Listen,
		"--listen=" + c.p2p.Listen,
		"--rpccert=" + c.certPath,
		"--rpckey=" + filepath.Join(c.dir, "rpc.key"),
		"--miningaddr=" + c.miner.addr.EncodeAddress(),
		"--txindex",
		"--rejectnonstd",
		"--nobanning",
		"--nostalldetect",
		"--trickleinterval=100ms",
		"--rpcmaxwebsockets=100",
		// LND does not need compact filters from btcd, and the default
		// 250 MiB UTXO cache is allocated up front.
		"--nocfilters",
		"--utxocachemaxsize=16",
		"--debuglevel=info",
	}
	c.log.Debug("starting btcd", "rpc", c.rpc.Host, "dir", c.dir)
	c.proc, err = c.sandbox.Start(ctx, Spec{
		Name: "btcd", Bin: c.bin, Args: args, Dir: c.dir, LogPath: c.LogPath(),
		Endpoints: []Endpoint{c.rpc, c.p2p},
	})
	if err != nil {
		return err
	}
	if err := c.waitReady(ctx); err != nil {
		c.proc.Kill()
		return err
	}
	start := time.Now()
	n, err := c.replayBlocks(ctx)
	if err != nil {
		c.proc.Kill()
		return err
	}
	if n > 0 {
		c.log.Debug("replayed blocks into btcd", "blocks", n, "took", time.Since(start))
	}
	return nil
}

func (c *Chain) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, btcdReadyTimeout)
	defer cancel()
	err := wait.Until(ctx, pollInterval, func(ctx context.Context) error {
		if err := c.proc.Exited(); err != nil {
			return wait.Permanent(err)
		}
		if _, err := c.rpcClient(); err != nil {
			cert, err := os.ReadFile(c.certPath)
			if err != nil {
				return fmt.Errorf("read rpc cert: %w", err)
			}
			// A websocket keeps one TLS connection open; btcd closes
			// every HTTP POST connection after one request, which costs
			// a TLS handshake per call.
			client, err := rpcclient.New(&rpcclient.ConnConfig{
				Host: c.rpc.Host, Endpoint: "ws", User: btcdUser, Pass: btcdPass,
				Certificates: cert,
			}, nil)
			if err != nil {
				return err
			}
			c.clientMu.Lock()
			c.client = client
			c.clientMu.Unlock()
		}
		_, err := c.Height(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("wait for btcd: %w", err)
	}
	return nil
}

// Height returns the chain tip's height.
func (c *Chain) Height(ctx context.Context) (int32, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	cl, err := c.rpcClient()
	if err != nil {
		return 0, fmt.Errorf("btcd height: %w", err)
	}
	h, err := await(ctx, cl.GetBlockCount)
	if err != nil {
		return 0, fmt.Errorf("btcd height: %w", err)
	}
	return int32(h), nil
}

// Mine mines n blocks and returns their hashes.
func (c *Chain) Mine(ctx context.Context, n int) ([]*chainhash.Hash, error) {
	if n <= 0 {
		return nil, nil
	}
	c.mineMu.Lock()
	defer c.mineMu.Unlock()
	cl, err := c.rpcClient()
	if err != nil {
		return nil, fmt.Errorf("mine %d blocks: %w", n, err)
	}
	hashes, err := await(ctx, func() ([]*chainhash.Hash, error) { return cl.Generate(uint32(n)) })
	if err != nil {
		return nil, fmt.Errorf("mine %d blocks: %w", n, err)
	}
	if err := c.recordBlocks(ctx, hashes); err != nil {
		return hashes, err
	}
	return hashes, nil
}

// Payout is one output of a funding transaction.
type Payout struct {
	Address string
	Amount  btcutil.Amount
}

// Send pays the outputs from the miner's mature coinbases in one
// transaction and returns its id. The caller mines to confirm it.
func (c *Chain) Send(ctx context.Context, outs []Payout) (*chainhash.Hash, error) {
	c.miner.mu.Lock()
	defer c.miner.mu.Unlock()

	tx := wire.NewMsgTx(wire.TxVersion)
	var need btcutil.Amount = fundingFee
	for _, o := range outs {
		addr, err := btcutil.DecodeAddress(o.Address, netParams)
		if err != nil {
			return nil, fmt.Errorf("payout address %q: %w", o.Address, err)
		}
		script, err := txscript.PayToAddrScript(addr)
		if err != nil {
			return nil, err
		}
		tx.AddTxOut(wire.NewTxOut(int64(o.Amount), script))
		need += o.Amount
	}

	height, err := c.Height(ctx)
	if err != nil {
		return nil, err
	}
	minerScript, err := txscript.PayToAddrScript(c.miner.addr)
	if err != nil {
		return nil, err
	}
	var have btcutil.Amount
	next := c.miner.NextCoinbase
	for have < need {
		if height-next < coinbaseMaturity {
			return nil, fmt.Errorf("fund %v: %w (next coinbase at height %d, tip %d)", need, ErrNoFunds, next, height)
		}
		cb, err := c.coinbase(ctx, next)
		if err != nil {
			return nil, err
		}
		next++
		out := cb.TxOut[0]
		tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(ptr(cb.TxHash()), 0), nil, nil))
		have += btcutil.Amount(out.Value)
	}
	if change := have - need; change > 0 {
		tx.AddTxOut(wire.NewTxOut(int64(change), minerScript))
	}
	for i := range tx.TxIn {
		sig, err := txscript.SignatureScript(tx, i, minerScript, txscript.SigHashAll, c.miner.key, true)
		if err != nil {
			return nil, fmt.Errorf("sign funding input %d: %w", i, err)
		}
		tx.TxIn[i].SignatureScript = sig
	}
	cl, err := c.rpcClient()
	if err != nil {
		return nil, fmt.Errorf("broadcast funding tx: %w", err)
	}
	txid, err := await(ctx, func() (*chainhash.Hash, error) { return cl.SendRawTransaction(tx, true) })
	if err != nil {
		return nil, fmt.Errorf("broadcast funding tx: %w", err)
	}
	c.miner.NextCoinbase = next
	if err := c.miner.save(); err != nil {
		return nil, err
	}
	return txid, nil
}

// coinbase returns the coinbase transaction of the block at height,
// checking that it pays the miner's key.
func (c *Chain) coinbase(ctx context.Context, height int32) (*wire.MsgTx, error) {
	cl, err := c.rpcClient()
	if err != nil {
		return nil, fmt.Errorf("block hash at %d: %w", height, err)
	}
	hash, err := await(ctx, func() (*chainhash.Hash, error) { return cl.GetBlockHash(int64(height)) })
	if err != nil {
		return nil, fmt.Errorf("block hash at %d: %w", height, err)
	}
	block, err := await(ctx, func() (*wire.MsgBlock, error) { return cl.GetBlock(hash) })
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", hash, err)
	}
	cb := block.Transactions[0]
	script, _ := txscript.PayToAddrScript(c.miner.addr)
	if string(cb.TxOut[0].PkScript) != string(script) {
		return nil, fmt.Errorf("coinbase at height %d does not pay the miner", height)
	}
	return cb, nil
}

// stop shuts btcd down: gracefully when graceful is set (its databases are
// then safe to copy), by SIGKILL otherwise.
func (c *Chain) stop(graceful bool) error {
	c.clientMu.Lock()
	cl := c.client
	c.client = nil
	c.clientMu.Unlock()
	if cl != nil {
		cl.Shutdown()
	}
	if c.proc == nil {
		return nil
	}
	if graceful {
		return c.proc.Terminate(stopTimeout)
	}
	return c.proc.Kill()
}

// minerWallet is the key that coinbases pay to, and how far they have been
// spent. It is saved in the chain's directory so snapshots carry it.
type minerWallet struct {
	mu           sync.Mutex
	path         string
	key          *btcec.PrivateKey
	addr         btcutil.Address
	Key          string `json:"key"`
	NextCoinbase int32  `json:"next_coinbase"`
}

func loadMinerWallet(path string) (*minerWallet, error) {
	w := &minerWallet{path: path, NextCoinbase: 1}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, w); err != nil {
			return nil, fmt.Errorf("read miner wallet %s: %w", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
		key, err := btcec.NewPrivateKey()
		if err != nil {
			return nil, err
		}
		w.Key = hex.EncodeToString(key.Serialize())
	default:
		return nil, err
	}
	raw, err := hex.DecodeString(w.Key)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("miner wallet %s: bad key", path)
	}
	w.key, _ = btcec.PrivKeyFromBytes(raw)
	w.addr, err = btcutil.NewAddressPubKeyHash(btcutil.Hash160(w.key.PubKey().SerializeCompressed()), netParams)
	if err != nil {
		return nil, err
	}
	return w, w.save()
}

func (w *minerWallet) save() error {
	data, _ := json.Marshal(w)
	tmp := w.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("save miner wallet: %w", err)
	}
	return os.Rename(tmp, w.path)
}

func ptr[T any](v T) *T { return &v }
