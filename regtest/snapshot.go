package regtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/l402chaos/l402chaos/internal/owned"
)

// A snapshot is the data directories of a funded, channel-ready network,
// saved after a graceful shutdown. Starting from a copy skips mining,
// funding and channel opening: the nodes only restart, sync one fresh
// block and reconnect.
//
//	snapshots/<key>/
//	    snapshot.json      settings, channel points, versions
//	    btcd/              chain data, rpc cert, miner key
//	    alice/ bob/ ...    lnd data dirs (wallet, channel db, tls cert)
//
// The key hashes every setting that shapes the network and the identity
// of the binaries, so a snapshot is only reused by a network it fits.

const snapshotFormat = 2

type snapshotMeta struct {
	Format      int           `json:"format"`
	Key         string        `json:"key"`
	Topology    Topology      `json:"topology"`
	Channels    []ChannelSpec `json:"channels"`
	LNDVersion  string        `json:"lnd_version"`
	BtcdVersion string        `json:"btcd_version"`
	Created     time.Time     `json:"created"`
}

func snapshotKey(cfg config, bins Binaries) string {
	data, _ := json.Marshal(struct {
		Format   int
		Bins     string
		Topology Topology
		Capacity int64
		Push     int64
		UTXOs    int
		UTXO     int64
		Args     map[string][]string
	}{snapshotFormat, bins.identity(), cfg.topology, int64(cfg.capacity), int64(cfg.push),
		cfg.walletUTXOs, int64(cfg.walletUTXO), cfg.nodeArgs})
	sum := sha256.Sum256(data)
	return string(cfg.topology) + "-" + hex.EncodeToString(sum[:8])
}

func snapshotRoot(cfg config) (string, error) {
	if cfg.snapshotDir != "" {
		return cfg.snapshotDir, nil
	}
	d, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "snapshots"), nil
}

// ensureSnapshot returns the directory of the snapshot for cfg, building
// it first if needed. Concurrent callers wait for one builder.
func ensureSnapshot(ctx context.Context, cfg config, bins Binaries) (string, snapshotMeta, error) {
	root, err := snapshotRoot(cfg)
	if err != nil {
		return "", snapshotMeta{}, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", snapshotMeta{}, fmt.Errorf("create snapshot dir: %w", err)
	}
	key := snapshotKey(cfg, bins)
	dir := filepath.Join(root, key)
	if meta, err := readSnapshot(dir); err == nil {
		return dir, meta, nil
	}
	unlock, err := lockFile(ctx, dir+".lock", func() {
		cfg.log.Info("waiting for another process making snapshot", "key", key)
	})
	if err != nil {
		return "", snapshotMeta{}, err
	}
	defer unlock()
	if meta, err := readSnapshot(dir); err == nil {
		return dir, meta, nil
	}

	cfg.log.Info("making snapshot", "key", key)
	start := time.Now()
	fresh := cfg
	fresh.snapshot, fresh.keep = false, false
	// The snapshot is made without proxies: it must not depend on the
	// caller's, and the restored nodes ask for their hops afresh.
	fresh.interpose, fresh.onOpen, fresh.onNodes = nil, nil, nil
	n, err := startFresh(ctx, fresh, bins)
	if err != nil {
		return "", snapshotMeta{}, fmt.Errorf("make snapshot: %w", err)
	}
	defer n.Close()
	if err := n.shutdown(ctx); err != nil {
		return "", snapshotMeta{}, fmt.Errorf("make snapshot: %w", err)
	}
	tmp, err := os.MkdirTemp(root, key+".tmp-")
	if err != nil {
		return "", snapshotMeta{}, err
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(n.dir, tmp); err != nil {
		return "", snapshotMeta{}, fmt.Errorf("make snapshot: %w", err)
	}
	meta := snapshotMeta{
		Format: snapshotFormat, Key: key, Topology: cfg.topology, Channels: n.channels,
		LNDVersion: bins.LNDVersion, BtcdVersion: bins.BtcdVersion, Created: time.Now().UTC(),
	}
	data, _ := json.MarshalIndent(meta, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "snapshot.json"), data, 0o644); err != nil {
		return "", snapshotMeta{}, err
	}
	// An unreadable snapshot (older format, interrupted copy) is replaced.
	if err := os.RemoveAll(dir); err != nil {
		return "", snapshotMeta{}, fmt.Errorf("replace snapshot: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", snapshotMeta{}, fmt.Errorf("install snapshot: %w", err)
	}
	cfg.log.Info("snapshot made", "key", key, "took", time.Since(start).Round(time.Millisecond))
	return dir, meta, nil
}

func readSnapshot(dir string) (snapshotMeta, error) {
	var meta snapshotMeta
	data, err := os.ReadFile(filepath.Join(dir, "snapshot.json"))
	if err != nil {
		return meta, err
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return meta, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if meta.Format != snapshotFormat {
		return meta, fmt.Errorf("snapshot %s: format %d, want %d", dir, meta.Format, snapshotFormat)
	}
	return meta, nil
}

// shutdown stops every process gracefully so that the databases on disk
// are consistent and can be copied.
func (n *Network) shutdown(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, node := range n.nodes {
		g.Go(func() error { return node.Stop(gctx) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return n.chain.stop(true)
}

func startFromSnapshot(ctx context.Context, cfg config, bins Binaries) (_ *Network, err error) {
	snap, meta, err := ensureSnapshot(ctx, cfg, bins)
	if err != nil {
		return nil, fmt.Errorf("regtest: %w", err)
	}
	n, err := newNetwork(ctx, cfg, bins)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.Close()
			err = fmt.Errorf("regtest: from snapshot %s: %w", meta.Key, err)
		}
	}()
	ph := newPhases()
	if err := copyTree(snap, n.dir); err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(n.dir, "snapshot.json"))
	ph.done("copy")
	n.channels = meta.Channels
	if n.chain, err = startChain(ctx, n.sandbox, bins.Btcd, filepath.Join(n.dir, "btcd"), n.log); err != nil {
		return nil, err
	}
	ph.done("btcd")
	// LND reports not synced while the tip is older than two hours: give
	// it a fresh tip before it starts.
	if _, err := n.chain.Mine(ctx, 1); err != nil {
		return nil, err
	}
	ph.done("mine")
	if err := n.addNodes(); err != nil {
		return nil, err
	}
	// The hook (a program that talks to the nodes, the provider) starts
	// with them: the node files it needs are in place, and it waits for
	// the nodes itself.
	hooked := make(chan error, 1)
	hctx, hcancel := context.WithCancel(ctx)
	defer hcancel()
	if cfg.onNodes != nil {
		go func() { hooked <- cfg.onNodes(hctx, n) }()
	} else {
		hooked <- nil
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, node := range n.nodes {
		g.Go(func() error { return node.Start(gctx) })
	}
	if err := g.Wait(); err != nil {
		hcancel()
		<-hooked
		return nil, err
	}
	ph.done("lnd")
	if err := n.WaitReady(ctx); err != nil {
		hcancel()
		<-hooked
		return nil, err
	}
	ph.done("channels")
	if err := <-hooked; err != nil {
		return nil, err
	}
	ph.done("hook")
	n.log.Info("network started from snapshot", "dir", n.dir, "phases", ph)
	return n, nil
}

// copyTree copies regular files and directories from src into dst,
// leaving out process output and ownership markers.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if rel == ownerFile || strings.HasSuffix(rel, ".out") || strings.HasSuffix(rel, ".lock") || !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// Run directories carry the pid of the process that made them. A run dir
// whose owner is gone was left by a process that died without cleaning up
// (its children died with it, through Pdeathsig); the next network removes
// it.
const (
	runPrefix = "l402chaos-run-"
	ownerFile = owned.File
)

// Sweep removes the run directories under base that were left by
// processes that no longer exist, and returns them. Every Start sweeps its
// base directory first.
func Sweep(base string) ([]string, error) {
	var removed []string
	err := sweep(base, func(dir string) { removed = append(removed, dir) })
	return removed, err
}

func sweepRuns(base string, log *slog.Logger) {
	sweep(base, func(dir string) { log.Info("removed run dir left by a dead process", "dir", dir) })
}

func sweep(base string, removed func(dir string)) error {
	return owned.Sweep(base, []string{runPrefix}, removed)
}

// ProcessAlive reports whether a process of this machine still runs. A
// zombie (killed, not yet reaped by its parent: kill -9 of an owner
// whose parent reaps late) has ended, and counts as dead.
func ProcessAlive(pid int) bool { return owned.Alive(pid) }
