// Command memerr explains the error codes of memory APIs (MemOS,
// Tensorheart, Memory OS, memories.ai, Coze) and decodes captured error
// responses, for the engineer on call.
//
// Usage:
//
//	memerr explain <vendor> <code>       what a vendor code means and what to do
//	memerr explain <code>                the same, searching every vendor
//	memerr codes [vendor] [--json]       the code registry as a table or JSON
//	memerr decode [file|-] [--vendor V]  decode a response captured with curl -i
//	memerr help [command]                help for every command, with examples
//
// Vendor names are read case-insensitively with common spellings
// ("MemOS", "memory-os", "memories.ai"). Errors are one line on stderr
// starting with "memerr: ". The exit status is 0 on success, 1 when a code
// is unknown or the input cannot be read or decoded, and 2 for usage errors
// (unknown command, wrong arguments or flags, unknown vendor).
//
// memerr never prints a header of a captured response, and messages pass
// through memerr's redaction, so a server that echoes a key does not make
// memerr print it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/memerr/memerr"
	"strconv"
	"unicode"
)

// Exit statuses.
const (
	exitOK    = 0 // the command did what was asked
	exitFail  = 1 // unknown code, unreadable or undecodable input
	exitUsage = 2 // bad command, arguments, flags or vendor
)

// main runs the command with the process's arguments and standard streams
// and exits with the status run returns.
func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// run is the whole command: it executes args (without the program name),
// reading stdin for "decode -", and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return fail(stderr, usageError("missing command (see memerr help)"))
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "help", "-h", "-help", "--help":
		err = runHelp(rest, stdout)
	case "explain":
		err = runExplain(rest, stdout)
	case "codes":
		err = runCodes(rest, stdout)
	case "decode":
		err = runDecode(rest, stdin, stdout, stderr)
	default:
		err = usageError("unknown command %q (see memerr help)", cmd)
	}
	return fail(stderr, err)
}

// usageErr is an error in the command line itself; it exits with status 2.
type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }

// usageError formats a usage error.
func usageError(format string, a ...any) error {
	return &usageErr{fmt.Sprintf(format, a...)}
}

// fail prints err as one line on stderr and returns its exit status; a nil
// err returns exitOK.
func fail(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	msg = strings.TrimPrefix(msg, "memerr: ")
	fmt.Fprintln(stderr, "memerr: "+msg)
	var ue *usageErr
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFail
}

// parseFlags parses args with fs, accepting flags before, between and after
// positional arguments ("codes tensorheart --json"); "--" ends the flags.
// It returns the positional arguments. -h and --help return flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError("%s: %v (see memerr help %s)", fs.Name(), err, fs.Name())
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseVendor reads a vendor name as memerr.ParseVendor does; an unknown
// name is a usage error listing the accepted names.
func parseVendor(s string) (memerr.Vendor, error) {
	v, ok := memerr.ParseVendor(s)
	if !ok {
		names := make([]string, 0, 6)
		for _, v := range append(memerr.Vendors(), memerr.Generic) {
			names = append(names, string(v))
		}
		return v, usageError("unknown vendor %q (want %s)", s, strings.Join(names, ", "))
	}
	return v, nil
}

// maxText bounds a printed server value, in runes.
const maxText = 500

// safeText returns server-sent text as one printable line: anything that
// looks like a credential removed by memerr's rules, each value of secrets
// (the capture's own credentials) replaced, control and invisible
// characters shown as escapes (\n, \x1b, \u202e) rather than sent to the
// terminal, and the whole cut at maxText runes.
func safeText(s string, secrets []string) string {
	if s == "" {
		return ""
	}
	// The capture's own credentials go first, whole: redaction may take
	// part of one (a segment after '/'), and the rest would not match.
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	s = memerr.Redact(s)
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if n == maxText {
			b.WriteString("…")
			break
		}
		n++
		if r == ' ' || unicode.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r) // '\n', '\x1b', '\u202e'
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// field is one "key: value" line of a report.
type field struct{ key, value string }

// writeFields prints fields as "key: value" lines with the values aligned.
func writeFields(w io.Writer, fields []field) error {
	width := 0
	for _, f := range fields {
		width = max(width, len(f.key))
	}
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f.key)
		b.WriteByte(':')
		b.WriteString(strings.Repeat(" ", width-len(f.key)+1))
		b.WriteString(f.value)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// yesNo prints a boolean for people.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
