package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/memerr/memerr"
)

// runExplain implements "memerr explain <vendor> <code>" and
// "memerr explain <code>".
func runExplain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		_, err = io.WriteString(stdout, helpExplain)
		return err
	}
	if err != nil {
		return err
	}
	var infos []memerr.CodeInfo
	switch len(pos) {
	case 1:
		infos = lookupAll(pos[0])
		if len(infos) == 0 {
			return fmt.Errorf("no vendor has the code %q (see memerr codes)", pos[0])
		}
	case 2:
		v, err := parseVendor(pos[0])
		if err != nil {
			return err
		}
		if v == memerr.Auto {
			infos = lookupAll(pos[1])
		} else if info, ok := lookup(v, pos[1]); ok {
			infos = []memerr.CodeInfo{info}
		}
		if len(infos) == 0 {
			return fmt.Errorf("%s has no code %q (see memerr codes %s)", v, pos[1], v)
		}
	default:
		return usageError("explain: want a vendor and a code, as in memerr explain coze 4009")
	}
	for i, info := range infos {
		if i > 0 {
			if _, err := io.WriteString(stdout, "\n"); err != nil {
				return err
			}
		}
		if err := writeFields(stdout, explainFields(info)); err != nil {
			return err
		}
	}
	return nil
}

// lookup is memerr.Lookup, trying the code also in upper case so that
// "rate_limit_exceeded" finds RATE_LIMIT_EXCEEDED.
func lookup(v memerr.Vendor, code string) (memerr.CodeInfo, bool) {
	code = strings.TrimSpace(code)
	if info, ok := memerr.Lookup(v, code); ok {
		return info, true
	}
	return memerr.Lookup(v, strings.ToUpper(code))
}

// lookupAll returns the code's entries for every vendor, Generic last.
func lookupAll(code string) []memerr.CodeInfo {
	var out []memerr.CodeInfo
	for _, v := range append(memerr.Vendors(), memerr.Generic) {
		if info, ok := lookup(v, code); ok {
			out = append(out, info)
		}
	}
	return out
}

// explainFields is the report of one registry entry.
func explainFields(info memerr.CodeInfo) []field {
	return []field{
		{"vendor", info.Code.Vendor.String()},
		{"code", info.Code.Value},
		{"kind", info.Kind.String()},
		{"retryable", yesNo(info.Retryable)},
		{"http status", pairedStatus(info)},
		{"meaning", info.Meaning},
		{"resolution", info.Resolution},
	}
}

// pairedStatus describes the HTTP status a vendor sends with a code.
func pairedStatus(info memerr.CodeInfo) string {
	if info.Status == 0 {
		return "none (usually sent in the body of an HTTP 200)"
	}
	return statusText(info.Status)
}

// statusText prints an HTTP status as "429 Too Many Requests".
func statusText(status int) string {
	s := strconv.Itoa(status)
	if t := http.StatusText(status); t != "" {
		s += " " + t
	}
	return s
}

// codeJSON is one registry entry in "memerr codes --json".
type codeJSON struct {
	Vendor     string `json:"vendor"`
	Code       string `json:"code"`
	Kind       string `json:"kind"`
	Status     int    `json:"status"`
	Retryable  bool   `json:"retryable"`
	Meaning    string `json:"meaning"`
	Resolution string `json:"resolution"`
}

// runCodes implements "memerr codes [vendor] [--json]".
func runCodes(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("codes", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		_, err = io.WriteString(stdout, helpCodes)
		return err
	}
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("codes: want at most one vendor, as in memerr codes coze")
	}
	v := memerr.Auto
	if len(pos) == 1 {
		if v, err = parseVendor(pos[0]); err != nil {
			return err
		}
	}
	infos := memerr.Codes(v)
	if *asJSON {
		return writeCodesJSON(stdout, infos)
	}
	return writeCodesTable(stdout, infos)
}

// writeCodesJSON prints infos as an indented JSON array.
func writeCodesJSON(w io.Writer, infos []memerr.CodeInfo) error {
	out := make([]codeJSON, 0, len(infos))
	for _, c := range infos {
		out = append(out, codeJSON{
			Vendor:     c.Code.Vendor.String(),
			Code:       c.Code.Value,
			Kind:       c.Kind.String(),
			Status:     c.Status,
			Retryable:  c.Retryable,
			Meaning:    c.Meaning,
			Resolution: c.Resolution,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// writeCodesTable prints infos as an aligned table.
func writeCodesTable(w io.Writer, infos []memerr.CodeInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VENDOR\tCODE\tKIND\tSTATUS\tRETRY\tMEANING")
	for _, c := range infos {
		status := "-"
		if c.Status != 0 {
			status = strconv.Itoa(c.Status)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n",
			c.Code.Vendor, c.Code.Value, c.Kind, status, yesNo(c.Retryable), c.Meaning)
	}
	return tw.Flush()
}
