package memerr

import "bytes"

// plainSuccess is the success path's shortcut: true means parse finds no
// error in body, with no envelope built. False means doubt (an "error"
// that is not null, a "code" other than 0, 200 or 0000, "success":false, a
// "detail" object with a code or message, an escaped key, anything
// malformed), and the full scan decides.
//
// MemOS, Coze and memories.ai give their verdict in "code" and send it as
// the first member, so a body that opens with a success code is a success
// without reading further; with v naming MemOS or Coze, a success code
// decides wherever it stands (the members before it are checked as usual).
// Otherwise it walks the top-level members once, without building spans
// or calling closures, and skips every other value (the success payload)
// by its brackets and quotes alone.
func plainSuccess(b []byte, v Vendor) bool {
	if compactSuccess(b) {
		return true
	}
	codeDecides := v == Coze || v == MemOS
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for first := true; ; first = false {
		key, j, ok := memberKey(b, i)
		if !ok {
			return false
		}
		i = j
		switch string(key) {
		case "code":
			if i, ok = successCode(b, i, true); !ok {
				return false
			}
			if first || codeDecides {
				return true
			}
		case "error_code":
			if i, ok = successCode(b, i, false); !ok {
				return false
			}
		case "error":
			if !bytes.HasPrefix(b[i:], []byte("null")) {
				return false
			}
			i += 4
		case "success":
			if i >= len(b) || b[i] == 'f' {
				return false
			}
			if i, ok = skipValue(b, i); !ok {
				return false
			}
		case "failed":
			if i >= len(b) || b[i] == 't' {
				return false
			}
			if i, ok = skipValue(b, i); !ok {
				return false
			}
		case "detail":
			if i, ok = plainDetail(b, i); !ok {
				return false
			}
		default:
			if i, ok = skipValue(b, i); !ok {
				return false
			}
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// compactSuccess recognises the compact form of a success code sent first,
// a body that opens with {"code":0, or {"code":200, (or closes there), in
// a few comparisons; it answers as the member walk would.
func compactSuccess(b []byte) bool {
	const open = `{"code":`
	if len(b) < len(open)+2 || string(b[:len(open)]) != open {
		return false
	}
	b = b[len(open):]
	n := 1
	if b[0] == '2' {
		if len(b) < 4 || b[1] != '0' || b[2] != '0' {
			return false
		}
		n = 3
	} else if b[0] != '0' {
		return false
	}
	return b[n] == ',' || b[n] == '}'
}

// memberKey reads `"key" :` at b[i] and returns the key's raw text and the
// index of its value. A key ending in a backslash is refused rather than
// told apart from an escaped quote.
func memberKey(b []byte, i int) (key []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	k := bytes.IndexByte(b[i+1:], '"')
	if k < 0 {
		return nil, 0, false
	}
	key = b[i+1 : i+1+k]
	if k > 0 && key[k-1] == '\\' {
		return nil, 0, false
	}
	i = skipSpace(b, i+2+k)
	if i >= len(b) || b[i] != ':' {
		return nil, 0, false
	}
	return key, skipSpace(b, i+1), true
}

// successCode passes over a code that parse counts as a success: 0, 200 or
// 0000, as a number or a string; only 0 when codes is false (the workflow
// "error_code").
func successCode(b []byte, i int, codes bool) (int, bool) {
	start, quoted := i, i < len(b) && b[i] == '"'
	if quoted {
		start++
	}
	j := start
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	switch d := string(b[start:j]); {
	case d == "0", codes && (d == "200" || d == "0000"):
	default:
		return 0, false
	}
	if quoted {
		if j >= len(b) || b[j] != '"' {
			return 0, false
		}
		j++
	} else if j < len(b) {
		switch b[j] {
		case '.', 'e', 'E', '+', '-':
			return 0, false // 0.0 or 2e2: for the full scan to render
		}
	}
	return j, true
}

// plainDetail passes over a "detail" value, refusing an object that holds a
// code or a message (FastAPI and Coze errors); Coze's {"logid": ...} and a
// plain string pass.
func plainDetail(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return skipValue(b, i)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		key, j, ok := memberKey(b, i)
		if !ok {
			return 0, false
		}
		switch string(key) {
		case "code", "message", "msg":
			return 0, false
		}
		if i, ok = skipValue(b, j); !ok {
			return 0, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// skipValue passes over one JSON value at b[i], as the scanner's skip does.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		return skipNested(b, i)
	case ',', '}', ']', ':':
		return 0, false
	}
	start := i
	for i < len(b) {
		c := b[i]
		if c == ',' || c == '}' || c == ']' || isSpace(c) {
			break
		}
		i++
	}
	return i, i > start
}

// skipString passes over the string at b[i] (which holds '"'): the next
// quote not escaped by an odd run of backslashes ends it.
func skipString(b []byte, i int) (int, bool) {
	start := i + 1
	j := start
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, false
		}
		j += k
		n := 0
		for p := j - 1; p >= start && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, true
		}
		j++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}
