package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/certify"
	"github.com/l402chaos/l402chaos/reports"
	"github.com/l402chaos/l402chaos/scenarios"
)

// chaos report works on report directories after the fact:
//
//	chaos report merge -out DIR SHARD_DIR...   join the shares of a sharded run
//	chaos report durations DIR                 scenario durations for -shard's balance
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintln(stderr, "usage: chaos report merge [-out DIR] [-json] SHARD_DIR...")
		fmt.Fprintln(stderr, "       chaos report durations DIR")
		fmt.Fprintln(stderr, "merge joins the report directories of the N shares of one `chaos run -shard K/N` into one report")
		fmt.Fprintln(stderr, "(results.json, junit.xml, report.html, every run's record), or those of one `chaos certify -shard K/N`")
		fmt.Fprintln(stderr, "into the certificate; it refuses a missing, duplicate or mismatched share. Its exit code is the")
		fmt.Fprintln(stderr, "merged verdict: 0 valid (certified), 1 invalid, 3 unknown, 64 bad usage or shares that do not fit.")
		fmt.Fprintln(stderr, "durations prints a run's scenario durations as scenarios/durations.json, which -shard balances by.")
	}
	if len(args) == 0 {
		usage()
		return verdictCommand("report", fmt.Errorf("%w: want a subcommand: merge or durations", errUsage), stderr)
	}
	switch args[0] {
	case "merge":
		return verdictCommand("report merge", mergeReports(args[1:], stdout, stderr), stderr)
	case "durations":
		return verdictCommand("report durations", printDurations(args[1:], stdout, stderr), stderr)
	case "-h", "-help", "--help", "help":
		usage()
		return nil
	}
	usage()
	return verdictCommand("report", fmt.Errorf("%w: unknown subcommand %q: want merge or durations", errUsage, args[0]), stderr)
}

func mergeReports(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report merge", stderr)
	out := fs.String("out", "", "where to write the merged report (default ./chaos-reports/merged-<timestamp>)")
	jsonOut := fs.Bool("json", false, "print the merged results.json on stdout; the table goes to stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chaos report merge [-out DIR] [-json] SHARD_DIR...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: want the shares' report directories", errUsage)
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("chaos-reports", "merged-"+time.Now().Format("20060102-150405"))
	}
	if n := countShares(fs.Args()); n > 0 {
		if n < fs.NArg() {
			return fmt.Errorf("%w: %w: %d of the %d directories are certification shares (%s), the others are not",
				errUsage, reports.ErrShardMismatch, n, fs.NArg(), certify.FileShare)
		}
		return mergeCertificate(dir, fs.Args(), stdout)
	}
	r, err := reports.MergeDirs(dir, fs.Args())
	if errors.Is(err, reports.ErrMerge) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err != nil {
		return err
	}
	w := stdout
	if *jsonOut {
		w = stderr
	}
	if err := reports.WriteTable(w, r); err != nil {
		return err
	}
	c := r.Scenarios()
	fmt.Fprintf(w, "\n%s: %d scenarios from %d shares: %s; seed %d\n", strings.ToUpper(r.Verdict.String()), c.Total(), len(r.Merged), c, r.Seed)
	fmt.Fprintf(w, "merged report: %s\n", filepath.Join(dir, reports.FileHTML))
	if *jsonOut {
		if err := reports.WriteJSON(stdout, r); err != nil {
			return err
		}
	}
	return verdictExit(r.Verdict)
}

// countShares counts the directories that hold a certification share.
func countShares(dirs []string) int {
	n := 0
	for _, d := range dirs {
		if certify.IsShare(d) {
			n++
		}
	}
	return n
}

// mergeCertificate joins the shares of chaos certify -shard K/N into the
// certificate; its exit code is the certificate's verdict.
func mergeCertificate(out string, dirs []string, stdout io.Writer) error {
	cert, err := certify.MergeShares(out, dirs)
	if errors.Is(err, reports.ErrMerge) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err != nil {
		return err
	}
	if err := writeRuleResults(stdout, cert); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s (%d shares)\ncertificate: %s\n", cert.Headline(), len(dirs), filepath.Join(out, certify.FileHTML))
	return certificateExit(cert)
}

func printDurations(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: want one report directory", errUsage)
	}
	f, err := os.Open(filepath.Join(args[0], reports.FileResults))
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	defer f.Close()
	r, err := reports.ReadJSON(f)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	measured := map[string]time.Duration{}
	for _, run := range r.Runs {
		measured[run.Scenario] = run.Duration
	}
	b, err := scenarios.DurationsTable(measured)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	_, err = stdout.Write(b)
	return err
}
