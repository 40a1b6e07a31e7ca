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

	start := time.Now()
	buildCtx, size, err := buildContext(bin, base)
	if err != nil {
		return fail("make the build context", err)
	}
	fmt.Fprintf(progress, "l402chaos: building image %s from %s (%d MB context)\n", img.Ref, bin, size>>20)
	resp, err := e.cli.ImageBuild(ctx, buildCtx, build.ImageBuildOptions{
		Tags:        []string{img.Ref},
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{LabelKind: "1", "l402chaos.binary": base, "l402chaos.sha256": h},
		Version:     build.BuilderV1,
	})
	if err != nil {
		return fail("send the build", err)
	}
	defer resp.Body.Close()
	step := "start"
	dec := json.NewDecoder(resp.Body)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fail(step, fmt.Errorf("read the engine's answer: %w", err))
		}
		if m.Error != nil {
			return fail(step, errors.New(m.Error.Message))
		}
		if line := strings.TrimSpace(m.Stream); strings.HasPrefix(line, "Step ") {
			step = line
			fmt.Fprintf(progress, "l402chaos: %s: %s\n", img.Ref, line)
		}
	}
	if _, err := e.cli.ImageInspect(ctx, img.Ref); err != nil {
		return fail("after "+step, fmt.Errorf("image missing once built: %w", err))
	}
	fmt.Fprintf(progress, "l402chaos: built image %s in %s\n", img.Ref, time.Since(start).Round(time.Millisecond))
	img.Built = true
	e.pruneOlder(ctx, base, img.Ref)
	return img, nil
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
