package regtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"golang.org/x/sync/errgroup"
)

// btcd in regtest mode deletes its block database every time it starts
// (btcd.go: removeRegressionDB), so a restarted or restored btcd would come
// back at height 0 and every LND wallet would be ahead of it. The chain
// therefore keeps its own log of every block it mined, in height order,
// and submits them again after each start. Blocks are stored
// length-prefixed in their wire encoding:
//
//	blocks.dat: [u32 len][block] [u32 len][block] ...

const blockLogName = "blocks.dat"

// fetchParallel bounds concurrent RPCs while fetching blocks; btcd serves
// ten RPC clients at once by default.
const fetchParallel = 6

// recordBlocks appends the blocks with these hashes to the block log.
func (c *Chain) recordBlocks(ctx context.Context, hashes []*chainhash.Hash) error {
	cl, err := c.rpcClient()
	if err != nil {
		return fmt.Errorf("fetch blocks: %w", err)
	}
	blocks := make([]*wire.MsgBlock, len(hashes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fetchParallel)
	for i, h := range hashes {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err // a fetch failed or the Mine was cancelled
			}
			b, err := await(gctx, func() (*wire.MsgBlock, error) { return cl.GetBlock(h) })
			if err != nil {
				return fmt.Errorf("fetch block %s: %w", h, err)
			}
			blocks[i] = b
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, b := range blocks {
		var raw bytes.Buffer
		if err := b.Serialize(&raw); err != nil {
			return err
		}
		binary.Write(&buf, binary.BigEndian, uint32(raw.Len()))
		buf.Write(raw.Bytes())
	}
	f, err := os.OpenFile(c.blockLogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open block log: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("append block log: %w", err)
	}
	return f.Close()
}

func (c *Chain) blockLogPath() string { return c.dir + "/" + blockLogName }

// replayBlocks submits every logged block to a freshly started btcd.
func (c *Chain) replayBlocks(ctx context.Context) (int, error) {
	f, err := os.Open(c.blockLogPath())
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open block log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	n := 0
	for {
		var size uint32
		if err := binary.Read(r, binary.BigEndian, &size); errors.Is(err, io.EOF) {
			return n, nil
		} else if err != nil {
			return n, fmt.Errorf("block log entry %d: %w", n+1, err)
		}
		raw := make([]byte, size)
		if _, err := io.ReadFull(r, raw); err != nil {
			return n, fmt.Errorf("block log entry %d: %w", n+1, err)
		}
		block, err := btcutil.NewBlockFromBytes(raw)
		if err != nil {
			return n, fmt.Errorf("block log entry %d: %w", n+1, err)
		}
		cl, err := c.rpcClient()
		if err != nil {
			return n, fmt.Errorf("replay block %d: %w", n+1, err)
		}
		if _, err := await(ctx, func() (struct{}, error) { return struct{}{}, cl.SubmitBlock(block, nil) }); err != nil {
			return n, fmt.Errorf("replay block %d: %w", n+1, err)
		}
		n++
	}
}
