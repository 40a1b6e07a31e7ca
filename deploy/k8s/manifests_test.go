package k8s_test

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// decode reads one manifest strictly: an unknown or misspelt field, a
// wrong type or a second document is an error, as kubectl's server-side
// field validation would make it.
func decode(t *testing.T, file string, into any, kind string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("\n---")) {
		t.Fatalf("%s: one object per file", file)
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(b, &tm); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if tm.Kind != kind {
		t.Fatalf("%s: kind %q, want %q", file, tm.Kind, kind)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

var shardArg = regexp.MustCompile(`^-shard=\$\(JOB_COMPLETION_INDEX\)/(\d+)$`)

func TestManifests(t *testing.T) {
	var (
		pvc    corev1.PersistentVolumeClaim
		shards batchv1.Job
		merge  batchv1.Job
	)
	decode(t, "results-pvc.yaml", &pvc, "PersistentVolumeClaim")
	decode(t, "shards-job.yaml", &shards, "Job")
	decode(t, "merge-job.yaml", &merge, "Job")

	if pvc.APIVersion != "v1" || shards.APIVersion != "batch/v1" || merge.APIVersion != "batch/v1" {
		t.Fatalf("api versions: %s %s %s", pvc.APIVersion, shards.APIVersion, merge.APIVersion)
	}
	if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("the results volume must be ReadWriteMany: the shards' pods may run on several nodes")
	}

	// The shards: an Indexed Job whose every pod runs one share.
	js := shards.Spec
	if js.CompletionMode == nil || *js.CompletionMode != batchv1.IndexedCompletion {
		t.Fatalf("shards: completionMode must be Indexed")
	}
	if js.Completions == nil || js.Parallelism == nil {
		t.Fatalf("shards: completions and parallelism must be set")
	}
	n := int(*js.Completions)
	if int(*js.Parallelism) != n {
		t.Errorf("shards: parallelism %d, completions %d", *js.Parallelism, n)
	}
	pod := js.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("shards: restartPolicy %q: a share that failed is retried by the Job as a new pod", pod.RestartPolicy)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("shards: %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if len(c.Command) != 0 {
		t.Errorf("shards: the image's entrypoint is chaos; command must be unset")
	}
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Fatalf("shards: args %q must start with run", c.Args)
	}
	var shareN int
	var reports string
	for _, a := range c.Args {
		if m := shardArg.FindStringSubmatch(a); m != nil {
			fmt.Sscan(m[1], &shareN)
		}
		if v, ok := strings.CutPrefix(a, "-reports="); ok {
			reports = v
		}
	}
	if shareN != n {
		t.Errorf("shards: -shard=$(JOB_COMPLETION_INDEX)/%d, but completions %d", shareN, n)
	}
	if !slices.Contains(c.Args, "-verdict-exit=false") {
		t.Errorf("shards: a share's verdict is the merge's: -verdict-exit=false, or an invalid share is retried as a failed pod")
	}
	if !slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "-seed=") && a != "-seed=0" }) {
		t.Errorf("shards: every share needs the same explicit -seed")
	}
	if !strings.HasSuffix(reports, "/shard-$(JOB_COMPLETION_INDEX)") {
		t.Fatalf("shards: -reports=%q must end in /shard-$(JOB_COMPLETION_INDEX)", reports)
	}
	results := strings.TrimSuffix(reports, "/shard-$(JOB_COMPLETION_INDEX)")
	mounted := func(pod corev1.PodSpec, c corev1.Container, path string) {
		t.Helper()
		for _, m := range c.VolumeMounts {
			if m.MountPath != path {
				continue
			}
			for _, v := range pod.Volumes {
				if v.Name == m.Name && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name {
					return
				}
			}
		}
		t.Errorf("%s: %s is not the volume %s", c.Name, path, pvc.Name)
	}
	mounted(pod, c, results)
	// chaos writes its cache and temporary files under /work and /tmp:
	// with a read-only root, both must be volumes.
	if c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem {
		for _, p := range []string{"/work", "/tmp"} {
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == p }) {
				t.Errorf("shards: a read-only root needs a volume on %s", p)
			}
		}
	}
	for _, e := range c.Env {
		if e.Name == "JOB_COMPLETION_INDEX" {
			t.Errorf("shards: JOB_COMPLETION_INDEX is the Job controller's to set")
		}
	}

	// The merge: every share's directory, once, in order.
	mp := merge.Spec.Template.Spec
	if len(mp.Containers) != 1 {
		t.Fatalf("merge: %d containers, want 1", len(mp.Containers))
	}
	mc := mp.Containers[0]
	if mc.Image != c.Image {
		t.Errorf("merge image %s, shards image %s: one chaos must write and merge", mc.Image, c.Image)
	}
	if len(mc.Args) < 2 || mc.Args[0] != "report" || mc.Args[1] != "merge" {
		t.Fatalf("merge: args %q must start with report merge", mc.Args)
	}
	var dirs []string
	for _, a := range mc.Args[2:] {
		if !strings.HasPrefix(a, "-") {
			dirs = append(dirs, a)
		}
	}
	var want []string
	for k := range n {
		want = append(want, fmt.Sprintf("%s/shard-%d", results, k))
	}
	if !slices.Equal(dirs, want) {
		t.Errorf("merge: directories %q, want %q", dirs, want)
	}
	mounted(mp, mc, results)
	if merge.Spec.BackoffLimit == nil || *merge.Spec.BackoffLimit != 0 {
		t.Errorf("merge: backoffLimit must be 0: its exit code is the verdict, not a fault to retry")
	}
}

// TestStrictDecodeRefuses: the strict decoding this test relies on does
// refuse a misspelt field.
func TestStrictDecodeRefuses(t *testing.T) {
	var j batchv1.Job
	err := yaml.UnmarshalStrict([]byte("apiVersion: batch/v1\nkind: Job\nspec:\n  completionMod: Indexed\n"), &j)
	if err == nil || !strings.Contains(err.Error(), "completionMod") {
		t.Fatalf("a misspelt field decoded: %v", err)
	}
}
