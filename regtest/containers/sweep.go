package containers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/l402chaos/l402chaos/regtest"
)

// Labels on everything this package makes: containers, networks, volumes
// and images (images carry LabelKind only). A run's resources carry its
// run id and the pid of the process that owns them, so that the next
// start on this machine removes what a dead owner left.
const (
	LabelKind  = "l402chaos"            // "1" on every resource
	LabelRun   = "l402chaos.run"        // the run's id
	LabelOwner = "l402chaos.owner"      // the owning process's pid
	LabelHost  = "l402chaos.owner.host" // the owner's host name: pids mean something there only
)

// ownerLabels are the labels of a run's resources.
func ownerLabels(run string) map[string]string {
	host, _ := os.Hostname()
	return map[string]string{
		LabelKind:  "1",
		LabelRun:   run,
		LabelOwner: strconv.Itoa(os.Getpid()),
		LabelHost:  host,
	}
}

// Swept is what Sweep removed.
type Swept struct {
	Containers []string
	Networks   []string
	Volumes    []string
}

// Empty reports whether nothing was removed.
func (s Swept) Empty() bool { return len(s.Containers)+len(s.Networks)+len(s.Volumes) == 0 }

// Sweep removes the containers, networks and volumes that a process of
// this host made and that outlived it (killed before it could clean up).
// Every network start sweeps first; `chaos` sweeps at start as well.
func (e *Engine) Sweep(ctx context.Context) (Swept, error) {
	var out Swept
	var errs []error
	host, _ := os.Hostname()
	dead := func(labels map[string]string) bool {
		if labels[LabelHost] != host {
			return false
		}
		pid, err := strconv.Atoi(labels[LabelOwner])
		return err == nil && pid > 0 && !regtest.ProcessAlive(pid)
	}
	f := filters.NewArgs(filters.Arg("label", LabelOwner))
	cs, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return out, fmt.Errorf("sweep: list containers: %w", err)
	}
	for _, c := range cs {
		if !dead(c.Labels) {
			continue
		}
		err := e.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("sweep: remove container %s: %w", name(c.Names, c.ID), err))
			continue
		}
		out.Containers = append(out.Containers, name(c.Names, c.ID))
	}
	ns, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return out, errors.Join(append(errs, fmt.Errorf("sweep: list networks: %w", err))...)
	}
	for _, n := range ns {
		if !dead(n.Labels) {
			continue
		}
		if err := e.cli.NetworkRemove(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("sweep: remove network %s: %w", n.Name, err))
			continue
		}
		out.Networks = append(out.Networks, n.Name)
	}
	vs, err := e.cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return out, errors.Join(append(errs, fmt.Errorf("sweep: list volumes: %w", err))...)
	}
	for _, v := range vs.Volumes {
		if !dead(v.Labels) {
			continue
		}
		if err := e.cli.VolumeRemove(ctx, v.Name, true); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("sweep: remove volume %s: %w", v.Name, err))
			continue
		}
		out.Volumes = append(out.Volumes, v.Name)
	}
	return out, errors.Join(errs...)
}

// Owned lists the containers, networks and volumes of a run (all runs
// when run is empty) that exist now.
func (e *Engine) Owned(ctx context.Context, run string) (Swept, error) {
	var out Swept
	f := filters.NewArgs(filters.Arg("label", LabelOwner))
	if run != "" {
		f = filters.NewArgs(filters.Arg("label", LabelRun+"="+run))
	}
	cs, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return out, err
	}
	for _, c := range cs {
		out.Containers = append(out.Containers, name(c.Names, c.ID))
	}
	ns, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return out, err
	}
	for _, n := range ns {
		out.Networks = append(out.Networks, n.Name)
	}
	vs, err := e.cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return out, err
	}
	for _, v := range vs.Volumes {
		out.Volumes = append(out.Volumes, v.Name)
	}
	return out, nil
}

func name(names []string, id string) string {
	if len(names) > 0 {
		n := names[0]
		if len(n) > 0 && n[0] == '/' {
			n = n[1:]
		}
		return n
	}
	return id[:min(12, len(id))]
}
