package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/memerr/memerr"
)

// helpTop is printed by "memerr help", "memerr -h" and "memerr --help".
var helpTop = strings.Replace(helpTopText, "%VENDORS%\n", vendorList(), 1)

// vendorList lists the registered vendors with the other names their
// profiles accept, one a line.
func vendorList() string {
	var b strings.Builder
	for _, v := range append(memerr.Vendors(), memerr.Generic) {
		p, _ := memerr.LookupProfile(v)
		names := strings.Join(p.Names, ", ")
		if v == memerr.Generic {
			names += " (HTTP statuses, for bodies without a known envelope)"
		}
		fmt.Fprintf(&b, "  %-12s %s\n", v, names)
	}
	return b.String()
}

const helpTopText = `memerr explains the errors of memory APIs (MemOS, Tensorheart, Memory OS,
memories.ai, Coze) and decodes captured error responses.

Usage:
  memerr explain <vendor> <code>       what a vendor code means and what to do
  memerr explain <code>                the same, searching every vendor
  memerr codes [vendor] [--json]       the code registry as a table or JSON
  memerr decode [file|-] [--vendor V]  decode a response captured with curl -i
  memerr help [command]                this help, or one command's

Vendors (any case, common spellings accepted):
%VENDORS%

Examples:
  memerr explain coze 4009
  memerr explain memories.ai 402
  memerr explain RATE_LIMIT_EXCEEDED
  memerr codes tensorheart
  memerr codes memory-os --json
  curl -si https://api.coze.com/v3/chat -H "Authorization: Bearer $TOKEN" -d @req.json | memerr decode
  memerr decode response.txt --vendor memos

Exit status: 0 done (also when decode finds a success), 1 unknown code or
unreadable input, 2 usage error (unknown command, bad arguments or flags,
unknown vendor). Errors are one line on stderr starting with "memerr: ".
`

// helpExplain documents the explain command.
const helpExplain = `Usage:
  memerr explain <vendor> <code>
  memerr explain <code>

Prints what a vendor's error code means: vendor, code, kind, whether an
automatic retry can help, the HTTP status the vendor pairs with it, its
meaning and what to do. String codes match in any case. With only a code,
every vendor is searched and each match is printed, separated by a blank line.

Examples:
  memerr explain coze 4009
  memerr explain MemOS 40301
  memerr explain tensorheart rate_limit_exceeded
  memerr explain http 502
  memerr explain 4011

Exit status 1 when no vendor has the code, 2 for an unknown vendor.
`

// helpCodes documents the codes command.
const helpCodes = `Usage:
  memerr codes [vendor] [--json]

Prints the code registry, one vendor's codes or (without vendor) every
vendor's, as an aligned table with the columns
VENDOR CODE KIND STATUS RETRY MEANING (STATUS "-" when the vendor pairs no
HTTP status with the code). With --json, prints a JSON array of objects with
the keys vendor, code, kind, status, retryable, meaning and resolution.

Examples:
  memerr codes
  memerr codes coze
  memerr codes --json memory-os
`

// helpDecode documents the decode command.
const helpDecode = `Usage:
  memerr decode [file|-] [--vendor V]

Reads an HTTP response as "curl -i" prints it (a status line such as
"HTTP/1.1 429 Too Many Requests" or "HTTP/2 200", header lines, a blank line,
the body; CRLF or LF line ends) from file, or from stdin when file is "-" or
absent. When curl printed several header blocks ("HTTP/1.1 100 Continue", a
proxy's "200 Connection established"), the last one before the body is used.
The output of "curl -v" works too: its "* " notes and "> " request lines are
skipped. A body that kept its chunked framing or gzip encoding (curl --raw,
a request sending its own Accept-Encoding) is decoded first. At most 8 MiB
is read.

Prints "result: success" for a success, or the decoded error: vendor, HTTP
status, code, kind, whether a retry can help, the server's message, the
request id, the server's retry-after hint, and the registry's meaning and
resolution when the code is known. An error reported in the body of an
HTTP 200 (Coze, MemOS) is an error. Both exit 0.

A stream (Content-Type text/event-stream, captured with curl -si -N) is read
event by event: the first event that reports a failure (Coze's "error",
"Error" and "conversation.chat.failed", a MemOS {"type":"error"} frame) is
decoded and its event name printed; a stream without one is a success.

Headers are never printed, and every value from the server is redacted and
printed as one line, control characters shown as escapes (\x1b, \n): a
capture with an Authorization, Cookie or X-Api-Key header or a key in the
request's URL (the key is removed wherever the server echoes it, also
URL- or JSON-escaped) or a hostile message is safe to decode.

Flags:
  --vendor V   the vendor that sent the response (default: detect it)

Examples:
  curl -si https://api.tensorheart.com/v1/memories -H "Authorization: Bearer $KEY" | memerr decode
  memerr decode response.txt
  memerr decode --vendor coze response.txt

Exit status 1 when the input cannot be read or has no HTTP status line.
`

// helps maps each command to its help.
var helps = map[string]string{
	"explain": helpExplain,
	"codes":   helpCodes,
	"decode":  helpDecode,
	"help":    "",
}

// runHelp prints the help of the command named in args, or the overview.
func runHelp(args []string, stdout io.Writer) error {
	switch len(args) {
	case 0:
		_, err := io.WriteString(stdout, helpTop)
		return err
	case 1:
		h, ok := helps[strings.TrimLeft(args[0], "-")]
		if h == "" {
			h = helpTop
		}
		if !ok {
			return usageError("help: unknown command %q (want explain, codes or decode)", args[0])
		}
		_, err := io.WriteString(stdout, h)
		return err
	}
	return usageError("help: too many arguments (want memerr help [command])")
}
