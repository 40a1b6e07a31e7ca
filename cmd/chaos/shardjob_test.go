package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/containers"
	"github.com/l402chaos/l402chaos/reports"
)

// jobShardScenarios is the part of the catalogue the Job's proof runs:
// four short scenarios, one per share.
const jobShardScenarios = "^(invoice-expired|insufficient-funds|no-route|permanent-400)$"

// k8sJob is the part of deploy/k8s's Job manifests this proof runs: the
// share count and the container's arguments and environment. (The
// manifests are decoded strictly into k8s.io/api's types by deploy/k8s's
// own test.)
type k8sJob struct {
	Spec struct {
		Completions int `yaml:"completions"`
		Template    struct {
			Spec struct {
				Containers []struct {
					Image string   `yaml:"image"`
					Args  []string `yaml:"args"`
					Env   []struct {
						Name  string `yaml:"name"`
						Value string `yaml:"value"`
					} `yaml:"env"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func readJob(t *testing.T, file string) k8sJob {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "k8s", file))
	require.NoError(t, err)
	var j k8sJob
	require.NoError(t, yaml.Unmarshal(b, &j), file)
	require.Len(t, j.Spec.Template.Spec.Containers, 1, file)
	return j
}

var kubeVar = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expand does what the kubelet does to a container's arguments: $(NAME)
// becomes the variable's value, when the container has it.
func expand(arg string, env map[string]string) string {
	return kubeVar.ReplaceAllStringFunc(arg, func(m string) string {
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// TestShardJobOnDocker proves the Kubernetes Job's shape on this
// machine: the runner image (FROM scratch: chaos, lnd, btcd) runs each
// share as the Job's pod K would, JOB_COMPLETION_INDEX=K and the
// manifest's arguments as the kubelet expands them (a short selection
// added, and one scenario at a time on two cores), as the Job's user, on
// a read-only root, writing to a shared results directory; the merge
// Job's arguments join the shares; and the merged verdict of every
// scenario and checker equals an unsharded run's in the same image.
func TestShardJobOnDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs five containers of whole networks")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	eng, err := containers.Connect(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no Docker engine: %v", err)
		}
		t.Skipf("no Docker engine (CI would fail here): %v", err)
	}
	t.Cleanup(func() { eng.Close() })

	shards, merge := readJob(t, "shards-job.yaml"), readJob(t, "merge-job.yaml")
	n := shards.Spec.Completions
	require.Positive(t, n)

	bins, err := regtest.EnsureBinaries(ctx)
	require.NoError(t, err)
	_, chaosBin, err := live.StaticPrograms(ctx)
	require.NoError(t, err)
	bundle := RunnerBundle(chaosBin, bins)
	img, err := eng.EnsureBundle(ctx, bundle, testWriter{t})
	require.NoError(t, err)
	require.Equal(t, bundle.LatestRef(), shards.Spec.Template.Spec.Containers[0].Image, "the manifests run the image chaos images -runner tags")

	// The pods' volumes: the shared results, and (shared here so that
	// the network snapshot is made once) the work directory.
	root := t.TempDir()
	results, work := filepath.Join(root, "results"), filepath.Join(root, "work")
	for _, d := range []string{results, work} {
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.Chown(d, 65532, 65532))
	}
	t.Cleanup(func() { chownBack(root) })

	runPod := func(name string, args []string) (int, string) {
		t.Helper()
		cli := eng.Client()
		labels := map[string]string{containers.LabelKind: "1", containers.LabelRun: "shard-job-" + strconv.Itoa(os.Getpid()),
			containers.LabelOwner: strconv.Itoa(os.Getpid())}
		if host, err := os.Hostname(); err == nil {
			labels[containers.LabelHost] = host
		}
		c, err := cli.ContainerCreate(ctx, &container.Config{Image: img.Ref, Cmd: args, User: "65532:65532", Labels: labels},
			&container.HostConfig{
				Binds:          []string{results + ":/results", work + ":/work"},
				Tmpfs:          map[string]string{"/tmp": "rw,exec,size=1g"},
				ReadonlyRootfs: true,
			}, nil, nil, "")
		require.NoError(t, err, name)
		t.Cleanup(func() { cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true}) })
		require.NoError(t, cli.ContainerStart(ctx, c.ID, container.StartOptions{}), name)
		waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
		var code int
		select {
		case w := <-waitC:
			code = int(w.StatusCode)
		case err := <-errC:
			t.Fatalf("%s: %v", name, err)
		}
		logs, err := cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
		require.NoError(t, err)
		defer logs.Close()
		var out bytes.Buffer
		stdcopy.StdCopy(&out, &out, logs)
		return code, out.String()
	}

	// The shares, as the Job's pods: the manifest's arguments, expanded
	// with the pod's environment.
	c := shards.Spec.Template.Spec.Containers[0]
	var seed string
	for k := range n {
		env := map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(k)}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		seed = env["SEED"]
		var args []string
		for _, a := range c.Args {
			args = append(args, expand(a, env))
		}
		require.Contains(t, args, fmt.Sprintf("-shard=%d/%d", k, n))
		args = append(args, "-scenario="+jobShardScenarios, "-parallel=1")
		code, out := runPod(fmt.Sprintf("shard %d/%d", k, n), args)
		t.Logf("shard %d/%d exited %d:\n%s", k, n, code, tail(out, 6))
		require.Equal(t, 0, code, "a share exits 0 once its reports are written (-verdict-exit=false):\n%s", out)
		require.FileExists(t, filepath.Join(results, fmt.Sprintf("shard-%d", k), reports.FileResults))
	}

	// The merge Job.
	mc := merge.Spec.Template.Spec.Containers[0]
	code, out := runPod("merge", mc.Args)
	t.Logf("merge exited %d:\n%s", code, tail(out, 4))
	require.Contains(t, []int{exitOK, exitInvalid, exitUnknown}, code, "the merge's exit code is the verdict:\n%s", out)

	// The same selection unsharded, in the same image, with the seed.
	code2, out2 := runPod("unsharded", []string{"run", "-seed=" + seed, "-scenario=" + jobShardScenarios, "-parallel=1", "-reports=/results/whole"})
	t.Logf("unsharded run exited %d:\n%s", code2, tail(out2, 3))
	require.Equal(t, code2, code, "the merged verdict is the unsharded run's")

	merged, whole := readResults(t, filepath.Join(results, "merged")), readResults(t, filepath.Join(results, "whole"))
	require.Equal(t, verdictsOf(whole), verdictsOf(merged), "same verdict per scenario and checker")
	require.Len(t, merged.Runs, 4)
	require.Len(t, merged.Merged, n)
}

func readResults(t *testing.T, dir string) reports.Report {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, reports.FileResults))
	require.NoError(t, err)
	defer f.Close()
	r, err := reports.ReadJSON(f)
	require.NoError(t, err)
	return r
}

// verdictsOf is every run's verdict and every checker's, by scenario.
func verdictsOf(r reports.Report) map[string]string {
	m := map[string]string{}
	for _, run := range r.Runs {
		m[run.Scenario] = run.Verdict.String()
		for _, res := range run.Results {
			m[run.Scenario+"/"+res.Checker] = res.Validity.String()
		}
	}
	m["verdict"] = r.Verdict.String()
	return m
}

// chownBack gives the test's temporary directory back to this user, so
// that its cleanup can remove what the containers' user wrote.
func chownBack(root string) {
	filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error {
		os.Lchown(p, os.Getuid(), os.Getgid())
		return nil
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// testWriter sends progress lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestShardsWorkflow: the GitHub Actions workflow's matrix names every
// share 0 ... SHARDS-1 once, and each share runs chaos run with them.
func TestShardsWorkflow(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".github", "workflows", "shards.yml"))
	require.NoError(t, err)
	var wf struct {
		Env  map[string]string `yaml:"env"`
		Jobs map[string]struct {
			Needs    any `yaml:"needs"`
			Strategy struct {
				Matrix struct {
					Shard []int `yaml:"shard"`
				} `yaml:"matrix"`
			} `yaml:"strategy"`
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &wf))
	n, err := strconv.Atoi(wf.Env["SHARDS"])
	require.NoError(t, err)
	var want []int
	for k := range n {
		want = append(want, k)
	}
	require.Equal(t, want, wf.Jobs["shard"].Strategy.Matrix.Shard, "the matrix must list the shares 0 ... SHARDS-1")
	var runs string
	for _, s := range wf.Jobs["shard"].Steps {
		runs += s.Run
	}
	require.Contains(t, runs, `-shard "${{ matrix.shard }}/$SHARDS"`)
	require.Contains(t, runs, "-verdict-exit=false")
	require.Equal(t, "shard", wf.Jobs["merge"].Needs)
	var merge string
	for _, s := range wf.Jobs["merge"].Steps {
		merge += s.Run
	}
	require.Contains(t, merge, "chaos report merge")
}
