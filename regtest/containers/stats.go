package containers

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/l402chaos/l402chaos/regtest"
)

// PeakMemory is the sum of the peak memory of a sandbox's running
// containers, in bytes, as their cgroups count it: the engine's
// max_usage on cgroup v1, memory.peak on cgroup v2.
func (e *Engine) PeakMemory(ctx context.Context, sb regtest.Sandbox) (int64, error) {
	s, ok := sb.(*sandbox)
	if !ok {
		return 0, fmt.Errorf("peak memory: %T is not a containers sandbox", sb)
	}
	cs, err := e.cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelRun+"="+s.run))})
	if err != nil {
		return 0, fmt.Errorf("list the run's containers: %w", err)
	}
	var total int64
	for _, c := range cs {
		n, err := e.peak(ctx, c.ID)
		if err != nil {
			return 0, fmt.Errorf("peak memory of %s: %w", name(c.Names, c.ID), err)
		}
		total += n
	}
	return total, nil
}

func (e *Engine) peak(ctx context.Context, id string) (int64, error) {
	st, err := e.cli.ContainerStats(ctx, id, false)
	if err != nil {
		return 0, err
	}
	defer st.Body.Close()
	var v container.StatsResponse
	if err := json.NewDecoder(st.Body).Decode(&v); err != nil {
		return 0, fmt.Errorf("decode stats: %w", err)
	}
	if v.MemoryStats.MaxUsage > 0 {
		return int64(v.MemoryStats.MaxUsage), nil
	}
	// cgroup v2 has no max_usage in the engine's stats: read the
	// cgroup's memory.peak, under either cgroup driver.
	for _, dir := range []string{"system.slice/docker-" + id + ".scope", "docker/" + id} {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", dir, "memory.peak"))
		if err == nil {
			return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		}
	}
	return 0, fmt.Errorf("no peak in the engine's stats nor a cgroup memory.peak (usage now %d bytes)", v.MemoryStats.Usage)
}
