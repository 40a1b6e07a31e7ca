package containers

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"
)

// ErrImageBuild: an image could not be built. The message names the
// binary and the step that failed.
var ErrImageBuild = errors.New("image build failed")

// imageFormat changes when the Dockerfile below does, so that images
// built by an older version are not taken for current ones.
const imageFormat = 1

// Image is a built image: a static binary on an empty filesystem.
type Image struct {
	// Ref is name:tag, e.g. l402chaos/lnd:3f2a9c01d4e5b6a7.
	Ref string
	// Binary is the binary's path on this machine and Entry its path in
	// the image.
	Binary string
	Entry  string
	// Built is false when the image was there already.
	Built bool
}

// dockerfile is the whole recipe: nothing can be pulled, so every image
// starts FROM scratch and holds one static binary (CGO off).
func dockerfile(base string) string {
	return fmt.Sprintf("FROM scratch\nCOPY %s /%s\nENTRYPOINT [\"/%s\"]\n", base, base, base)
}

// hashes caches binaries' content hashes by path, size and modification
// time: hashing lnd costs a fraction of a second, once per process.
var hashes = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

func contentHash(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	key := fmt.Sprintf("%s:%d:%d", path, st.Size(), st.ModTime().UnixNano())
	hashes.Lock()
	h, ok := hashes.m[key]
	hashes.Unlock()
	if ok {
		return h, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sum := sha256.New()
	fmt.Fprintf(sum, "format %d\n", imageFormat)
	if _, err := io.Copy(sum, f); err != nil {
		return "", err
	}
	h = hex.EncodeToString(sum.Sum(nil))[:16]
	hashes.Lock()
	hashes.m[key] = h
	hashes.Unlock()
	return h, nil
}

// imageName is the repository an executable's image goes to.
func imageName(bin string) string {
	base := strings.ToLower(filepath.Base(bin))
	var b strings.Builder
	for _, r := range base {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return "l402chaos/" + b.String()
}

// building serialises builds of one image within this process.
var building sync.Map // ref -> *sync.Mutex

// EnsureImage returns the image holding the static binary bin, building
// it first when this engine has no image of that content: tagged by the
// binary's content hash, so a second call is a lookup and a changed
// binary gets a new image. Progress lines go to progress (may be nil).
func (e *Engine) EnsureImage(ctx context.Context, bin string, progress io.Writer) (Image, error) {
	if progress == nil {
		progress = io.Discard
	}
	base := filepath.Base(bin)
	fail := func(step string, err error) (Image, error) {
		return Image{}, fmt.Errorf("%w: %s (%s): %s: %w", ErrImageBuild, base, bin, step, err)
	}
	h, err := contentHash(bin)
	if err != nil {
		return fail("read the binary", err)
	}
	img := Image{Ref: imageName(bin) + ":" + h, Binary: bin, Entry: "/" + base}
	mu, _ := building.LoadOrStore(img.Ref, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if _, err := e.cli.ImageInspect(ctx, img.Ref); err == nil {
		return img, nil
	} else if !cerrdefs.IsNotFound(err) {
		return fail("look the image up", err)
	}

	buildCtx, size, err := buildContext(bin, base)
	if err != nil {
		return fail("make the build context", err)
	}
	if err := e.buildImage(ctx, img.Ref, base, h, buildCtx, size, fail, progress); err != nil {
		return Image{}, err
	}
	img.Built = true
	e.pruneOlder(ctx, base, img.Ref)
	return img, nil
}

// buildImage sends an in-memory build context to the engine and follows
// the build, naming the step that failed.
func (e *Engine) buildImage(ctx context.Context, ref, base, hash string, buildCtx io.Reader, size int64,
	fail func(string, error) (Image, error), progress io.Writer, alsoTags ...string) error {
	start := time.Now()
	fmt.Fprintf(progress, "l402chaos: building image %s (%d MB context)\n", ref, size>>20)
	resp, err := e.cli.ImageBuild(ctx, buildCtx, build.ImageBuildOptions{
		Tags:        append([]string{ref}, alsoTags...),
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{LabelKind: "1", "l402chaos.binary": base, "l402chaos.sha256": hash},
		Version:     build.BuilderV1,
	})
	if err != nil {
		_, err = fail("send the build", err)
		return err
	}
	defer resp.Body.Close()
	step := "start"
	dec := json.NewDecoder(resp.Body)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			_, err = fail(step, fmt.Errorf("read the engine's answer: %w", err))
			return err
		}
		if m.Error != nil {
			_, err := fail(step, errors.New(m.Error.Message))
			return err
		}
		if line := strings.TrimSpace(m.Stream); strings.HasPrefix(line, "Step ") {
			step = line
			fmt.Fprintf(progress, "l402chaos: %s: %s\n", ref, line)
		}
	}
	if _, err := e.cli.ImageInspect(ctx, ref); err != nil {
		_, err = fail("after "+step, fmt.Errorf("image missing once built: %w", err))
		return err
	}
	fmt.Fprintf(progress, "l402chaos: built image %s in %s\n", ref, time.Since(start).Round(time.Millisecond))
	return nil
}

// BundleFile is one static binary of a bundle image: its path on this
// machine and its name in the image's /bin.
type BundleFile struct {
	Name string
	Host string
}

// Bundle describes an image of several static binaries FROM scratch: a
// program that runs a whole network inside one container (chaos with
// lnd and btcd, the process backend), as a Kubernetes Job's pod does.
type Bundle struct {
	// Name is the image's repository under l402chaos/ ("shard").
	Name  string
	Files []BundleFile
	// Env are the image's ENV lines (KEY=VALUE); Entry its ENTRYPOINT,
	// a file of Files ("chaos").
	Env   []string
	Entry string
}

// LatestRef is the tag that follows the newest build of the bundle
// (l402chaos/runner:latest), for manifests that cannot know the hash.
func (b Bundle) LatestRef() string { return "l402chaos/" + b.Name + ":latest" }

// EnsureBundle returns b's image, building it when this engine lacks an
// image of exactly these binaries (tagged by their content hashes), with
// an empty, world-writable /tmp and /work for the programs' files.
func (e *Engine) EnsureBundle(ctx context.Context, b Bundle, progress io.Writer) (Image, error) {
	if progress == nil {
		progress = io.Discard
	}
	fail := func(step string, err error) (Image, error) {
		return Image{}, fmt.Errorf("%w: bundle %s: %s: %w", ErrImageBuild, b.Name, step, err)
	}
	if b.Name == "" || imageName(b.Name) != "l402chaos/"+b.Name || len(b.Files) == 0 {
		return fail("describe it", fmt.Errorf("want a lowercase name and at least one file"))
	}
	sum := sha256.New()
	fmt.Fprintf(sum, "bundle %d %s %q %q\n", imageFormat, b.Name, b.Env, b.Entry)
	entry := false
	for _, f := range b.Files {
		if f.Name == "" || filepath.Base(f.Name) != f.Name {
			return fail("describe it", fmt.Errorf("bad file name %q", f.Name))
		}
		h, err := contentHash(f.Host)
		if err != nil {
			return fail("read "+f.Name, err)
		}
		fmt.Fprintf(sum, "%s %s\n", f.Name, h)
		entry = entry || f.Name == b.Entry
	}
	if !entry {
		return fail("describe it", fmt.Errorf("entry %q is none of its files", b.Entry))
	}
	h := hex.EncodeToString(sum.Sum(nil))[:16]
	img := Image{Ref: "l402chaos/" + b.Name + ":" + h, Entry: "/bin/" + b.Entry}
	mu, _ := building.LoadOrStore(img.Ref, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if _, err := e.cli.ImageInspect(ctx, img.Ref); err == nil {
		if err := e.cli.ImageTag(ctx, img.Ref, b.LatestRef()); err != nil {
			return fail("tag it "+b.LatestRef(), err)
		}
		return img, nil
	} else if !cerrdefs.IsNotFound(err) {
		return fail("look the image up", err)
	}
	buildCtx, size, err := bundleContext(b)
	if err != nil {
		return fail("make the build context", err)
	}
	if err := e.buildImage(ctx, img.Ref, "bundle-"+b.Name, h, buildCtx, size, fail, progress, b.LatestRef()); err != nil {
		return Image{}, err
	}
	img.Built = true
	e.pruneOlder(ctx, "bundle-"+b.Name, img.Ref)
	return img, nil
}

// bundleContext is a bundle's in-memory build context: its Dockerfile,
// bin/ with the binaries, and the empty directories.
func bundleContext(b Bundle) (io.Reader, int64, error) {
	var df strings.Builder
	df.WriteString("FROM scratch\nCOPY rootfs/ /\n")
	for _, kv := range b.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, 0, fmt.Errorf("env %q: want KEY=VALUE", kv)
		}
		fmt.Fprintf(&df, "ENV %s=%q\n", k, v)
	}
	fmt.Fprintf(&df, "ENTRYPOINT [\"/bin/%s\"]\n", b.Entry)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(df.Len())}); err != nil {
		return nil, 0, err
	}
	if _, err := io.WriteString(tw, df.String()); err != nil {
		return nil, 0, err
	}
	for _, d := range []struct {
		name string
		mode int64
	}{{"rootfs/", 0o755}, {"rootfs/bin/", 0o755}, {"rootfs/tmp/", 0o1777}, {"rootfs/work/", 0o1777}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode}); err != nil {
			return nil, 0, err
		}
	}
	for _, f := range b.Files {
		if err := addFile(tw, "rootfs/bin/"+f.Name, f.Host); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	return &buf, int64(buf.Len()), nil
}

func addFile(tw *tar.Writer, name, host string) error {
	f, err := os.Open(host)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: st.Size()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// pruneOlder removes the images of older contents of the binary base
// (a rebuilt chaos binary makes a new image each time its source
// changes), except those a container still uses: the engine refuses
// those, and they stay until a later build.
func (e *Engine) pruneOlder(ctx context.Context, base, keep string) {
	imgs, err := e.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelKind+"=1"), filters.Arg("label", "l402chaos.binary="+base))})
	if err != nil {
		return
	}
	for _, im := range imgs {
		if !slices.Contains(im.RepoTags, keep) {
			_, _ = e.cli.ImageRemove(ctx, im.ID, image.RemoveOptions{PruneChildren: true})
		}
	}
}

// buildContext is the in-memory tar of a Dockerfile and the binary.
func buildContext(bin, base string) (io.Reader, int64, error) {
	f, err := os.Open(bin)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	var buf bytes.Buffer
	buf.Grow(int(st.Size()) + 4096)
	tw := tar.NewWriter(&buf)
	df := dockerfile(base)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))}); err != nil {
		return nil, 0, err
	}
	if _, err := io.WriteString(tw, df); err != nil {
		return nil, 0, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: base, Mode: 0o755, Size: st.Size()}); err != nil {
		return nil, 0, err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return nil, 0, err
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	return &buf, int64(buf.Len()), nil
}
