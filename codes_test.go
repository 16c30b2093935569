package memerr

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expectedCode is what a vendor document says about one code, with the Kind
// chosen here, independently of codes.go, by what the code means.
type expectedCode struct {
	code   string
	kind   Kind
	status int
}

// expectedRegistry is the independent table: changing a Kind or a status in
// codes.go, or dropping or adding a code, fails TestRegistryKinds.
var expectedRegistry = map[Vendor][]expectedCode{
	MemOS: {
		// Parameter errors.
		{"40000", KindInvalidRequest, 0},
		{"40001", KindNotFound, 0},
		{"40002", KindInvalidRequest, 0},
		{"40003", KindInvalidRequest, 0},
		{"40006", KindInvalidRequest, 0},
		{"40007", KindInvalidRequest, 0},
		{"40008", KindInvalidRequest, 0},
		{"40009", KindInvalidRequest, 0},
		{"40010", KindInvalidRequest, 0},
		{"40011", KindInvalidRequest, 0},
		{"40020", KindInvalidRequest, 0},
		// Authentication and permission.
		{"40100", KindUnauthenticated, 0},
		{"40103", KindNotFound, 0}, // the user_id does not exist
		{"40130", KindUnauthenticated, 0},
		{"40132", KindUnauthenticated, 0},
		// Quota and rate limits.
		{"40300", KindRateLimited, 0},
		{"40301", KindQuotaExceeded, 0},
		{"40302", KindQuotaExceeded, 0},
		{"40303", KindInvalidRequest, 0}, // longer than the model: shorten it
		{"40304", KindQuotaExceeded, 0},
		{"40305", KindInvalidRequest, 0},
		{"40306", KindPermissionDenied, 0},
		{"40307", KindNotFound, 0},
		{"40308", KindNotFound, 0},
		// System and service.
		{"50000", KindInternal, 0},
		{"50002", KindInternal, 0},
		{"50004", KindUnavailable, 0},
		{"50005", KindUnavailable, 0},
		// Knowledge base and operations.
		{"50103", KindInvalidRequest, 0}, // file count exceeds limit: not a server fault
		{"50104", KindInvalidRequest, 0},
		{"50105", KindInvalidRequest, 0},
		{"50107", KindInvalidRequest, 0},
		{"50120", KindNotFound, 0},
		{"50123", KindPermissionDenied, 0},
		{"50131", KindNotFound, 0},
		{"50143", KindInternal, 0},
		{"50144", KindInternal, 0},
		{"50145", KindInternal, 0},
	},
	Tensorheart: {
		{"MISSING_API_KEY", KindUnauthenticated, 401},
		{"INVALID_API_KEY", KindUnauthenticated, 401},
		{"INVALID_API_KEY_FORMAT", KindUnauthenticated, 401},
		{"API_KEY_EXPIRED", KindUnauthenticated, 401},
		{"API_KEY_DISABLED", KindUnauthenticated, 401},
		{"INSUFFICIENT_PERMISSIONS", KindPermissionDenied, 403},
		{"ORGANIZATION_DISABLED", KindPermissionDenied, 403},
		{"RATE_LIMIT_EXCEEDED", KindRateLimited, 429},
		{"DAILY_QUOTA_EXCEEDED", KindQuotaExceeded, 429},
		{"CONCURRENT_LIMIT_EXCEEDED", KindRateLimited, 429},
		{"MEMORY_NOT_FOUND", KindNotFound, 404},
		{"MEMORY_ID_EXISTS", KindConflict, 409},
		{"API_KEY_NOT_FOUND", KindNotFound, 404},
		{"ORGANIZATION_NOT_FOUND", KindNotFound, 404},
		{"VALIDATION_ERROR", KindInvalidRequest, 400},
		{"CONFIRMATION_REQUIRED", KindInvalidRequest, 400},
		{"INTERNAL_ERROR", KindInternal, 500},
		{"EXTRACTION_FAILED", KindInternal, 500},
	},
	MemoryOS: {
		{"UNAUTHORIZED", KindUnauthenticated, 401},
		{"FORBIDDEN", KindPermissionDenied, 403},
		{"NOT_FOUND", KindNotFound, 404},
		{"VALIDATION_ERROR", KindInvalidRequest, 400},
		{"RATE_LIMITED", KindRateLimited, 429},
		{"INTERNAL_ERROR", KindInternal, 500},
	},
	MemoriesAI: {
		{"400", KindInvalidRequest, 400},
		{"401", KindUnauthenticated, 401},
		{"402", KindInsufficientBalance, 402},
		{"403", KindPermissionDenied, 403},
		{"405", KindInvalidRequest, 405},
		{"409", KindConflict, 409},
		{"415", KindInvalidRequest, 415},
		{"429", KindRateLimited, 429},
		{"500", KindInternal, 500},
	},
	Coze: {
		{"4000", KindInvalidRequest, 0},
		{"4001", KindNotFound, 0},
		{"4002", KindNotFound, 0},
		{"4003", KindInvalidRequest, 0},
		{"4004", KindInvalidRequest, 0},
		{"4005", KindInvalidRequest, 0}, // wrong message id or content
		{"4006", KindNotFound, 0},
		{"4007", KindInvalidRequest, 0},
		{"4008", KindRateLimited, 0},
		{"4009", KindUnavailable, 0},
		{"4010", KindInvalidRequest, 0},
		{"4011", KindInsufficientBalance, 0},
		{"4012", KindInvalidRequest, 0},
		{"4013", KindUnavailable, 0}, // the model service failed: retry later
		{"4014", KindInvalidRequest, 0},
		{"4015", KindPermissionDenied, 0},
		{"4016", KindConflict, 0},
		{"4019", KindInsufficientBalance, 0},
		{"4020", KindRateLimited, 0},
		{"4021", KindInvalidRequest, 0},
		{"4022", KindInsufficientBalance, 0},
		{"4028", KindInsufficientBalance, 0},
		{"4100", KindUnauthenticated, 0},
		{"4101", KindPermissionDenied, 0},
		{"4102", KindPermissionDenied, 0}, // risk control
		{"4104", KindConflict, 0},
		{"4105", KindInvalidRequest, 0},
		{"4200", KindNotFound, 0},
		{"4201", KindConflict, 0},
		{"4300", KindInvalidRequest, 0},
		{"4301", KindInvalidRequest, 0},
		{"4302", KindInvalidRequest, 0},
		{"4303", KindInvalidRequest, 0},
		{"4304", KindInvalidRequest, 0},
		{"4314", KindNotFound, 0},
		{"4315", KindConflict, 0},
		{"5000", KindInternal, 0},
		{"6031", KindPermissionDenied, 0}, // workflow not published
		{"6039", KindInvalidRequest, 0},   // no interruption in a synchronous run
		{"700012006", KindUnauthenticated, 401},
		{"700012014", KindPermissionDenied, 0},
		{"700012015", KindPermissionDenied, 0},
		{"702082020", KindInsufficientBalance, 0},
		{"702095072", KindInsufficientBalance, 0},
		{"authorization_pending", KindConflict, 400},
		{"slow_down", KindRateLimited, 400},
		{"access_denied", KindPermissionDenied, 400},
		{"expired_token", KindUnauthenticated, 400},
		{"unauthorized", KindUnauthenticated, 401},
	},
}

func TestRegistryKinds(t *testing.T) {
	counts := map[Vendor]int{MemOS: 38, Tensorheart: 18, MemoryOS: 6, MemoriesAI: 9, Coze: 49}
	for _, v := range builtins {
		t.Run(string(v), func(t *testing.T) {
			want := expectedRegistry[v]
			require.Len(t, want, counts[v], "the expected table itself")
			got := Codes(v)
			require.Len(t, got, counts[v], "registry entries of %s", v)
			inRegistry := map[string]bool{}
			for _, info := range got {
				inRegistry[info.Code.Value] = true
			}
			for _, w := range want {
				t.Run(w.code, func(t *testing.T) {
					require.True(t, inRegistry[w.code], "missing from the registry")
					info, ok := Lookup(v, w.code)
					require.True(t, ok)
					assert.Equal(t, w.kind, info.Kind, "Kind: got %v, want %v", info.Kind, w.kind)
					assert.Equal(t, w.status, info.Status, "Status")
					assert.Equal(t, w.kind.Retryable(), info.Retryable, "Retryable")

					// The same code, decoded from a body in HTTP 200 (or its
					// paired status), carries that Kind.
					status := 200
					if w.status != 0 {
						status = w.status
					}
					e := mustParse(t, v, status, nil, bodyFor(v, w.code))
					assert.Equal(t, Code{v, w.code}, Code{e.Vendor, e.Code})
					assert.Equal(t, w.kind, e.Kind, "decoded Kind")
					ea := mustParse(t, Auto, status, nil, bodyFor(v, w.code))
					assert.Equal(t, Code{v, w.code}, Code{ea.Vendor, ea.Code}, "detected vendor")
				})
			}
		})
	}
}

// bodyFor renders a minimal error body of vendor v carrying code.
func bodyFor(v Vendor, code string) string {
	switch v {
	case MemOS:
		return `{"code":` + code + `,"message":"m","data":null}`
	case Tensorheart:
		return `{"success":false,"error":{"code":"` + code + `","message":"m","details":{}}}`
	case MemoryOS:
		return `{"error":{"code":"` + code + `","message":"m"},"meta":{"request_id":"req_1"}}`
	case MemoriesAI:
		return `{"code":` + code + `,"msg":"m","data":null}`
	case Coze:
		if _, err := strconv.Atoi(code); err != nil {
			return `{"error_message":"m","error_code":"` + code + `","error":""}` // OAuth
		}
		return `{"code":` + code + `,"msg":"m","detail":{"logid":"l"}}`
	}
	panic("no body for " + string(v))
}

func TestQuotaCodesAreNotRetryable(t *testing.T) {
	for _, c := range []Code{MemOSChatInputTokenQuotaExceeded, MemOSChatOutputTokenQuotaExceeded, MemOSCallQuotaExceeded, TensorheartDailyQuotaExceeded} {
		t.Run(c.String(), func(t *testing.T) {
			info, ok := Lookup(c.Vendor, c.Value)
			require.True(t, ok)
			assert.Equal(t, KindQuotaExceeded, info.Kind)
			assert.False(t, info.Retryable)
			assert.NotEqual(t, KindRateLimited, info.Kind)
		})
	}
	info, ok := Lookup(MemOS, "50103")
	require.True(t, ok)
	assert.Equal(t, KindInvalidRequest, info.Kind, "MemOS 50103 is chosen by meaning, not by its first digit")
}

// exportedCodes reads codes.go and returns every exported package-level
// variable initialised with a Code{Vendor, "value"} literal, by name.
func exportedCodes(t *testing.T) map[string]Code {
	t.Helper()
	vendors := map[string]Vendor{"MemOS": MemOS, "Tensorheart": Tensorheart, "MemoryOS": MemoryOS, "MemoriesAI": MemoriesAI, "Coze": Coze, "Generic": Generic}
	files, err := filepath.Glob("vendor_*.go")
	require.NoError(t, err)
	out := map[string]Code{}
	for _, file := range files {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		require.NoError(t, err)
		collectCodes(t, f, vendors, out)
	}
	return out
}

func collectCodes(t *testing.T, f *ast.File, vendors map[string]Vendor, out map[string]Code) {
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !name.IsExported() || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.CompositeLit)
				if !ok {
					continue
				}
				if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "Code" {
					continue
				}
				require.Len(t, lit.Elts, 2, name.Name)
				vid, ok := lit.Elts[0].(*ast.Ident)
				require.True(t, ok, name.Name)
				v, ok := vendors[vid.Name]
				require.True(t, ok, "%s: vendor %s", name.Name, vid.Name)
				bl, ok := lit.Elts[1].(*ast.BasicLit)
				require.True(t, ok, name.Name)
				val, err := strconv.Unquote(bl.Value)
				require.NoError(t, err)
				out[name.Name] = Code{v, val}
			}
		}
	}
}

func TestEveryExportedCodeHasAnEntry(t *testing.T) {
	codes := exportedCodes(t)
	require.Greater(t, len(codes), 100)
	seen := map[Code]string{}
	perVendor := map[Vendor]int{}
	for name, c := range codes {
		t.Run(name, func(t *testing.T) {
			require.True(t, strings.HasPrefix(name, vendorPrefix(c.Vendor)), "the name starts with its vendor")
			if other, dup := seen[c]; dup {
				t.Fatalf("%s and %s are the same code %s", name, other, c)
			}
			seen[c] = name
			perVendor[c.Vendor]++
			info, ok := Lookup(c.Vendor, c.Value)
			require.True(t, ok, "no registry entry for %s", c)
			assert.Equal(t, c, info.Code)
			assert.NotEmpty(t, strings.TrimSpace(info.Meaning), "Meaning")
			assert.NotEmpty(t, strings.TrimSpace(info.Resolution), "Resolution")
			assert.NotEqual(t, KindUnknown, info.Kind)
			assert.Less(t, info.Kind, numKinds)
			assert.Equal(t, info.Kind.Retryable(), info.Retryable, "Retryable == Kind.Retryable()")
			assert.False(t, strings.HasSuffix(info.Meaning, "."), "meanings are phrases without a final period")
		})
	}
	// And the other way round: every entry is reachable through a variable.
	for _, info := range Codes(Auto) {
		_, ok := seen[info.Code]
		assert.True(t, ok, "registry entry %s has no exported Code", info.Code)
		assert.Equal(t, perVendor[info.Code.Vendor], len(Codes(info.Code.Vendor)))
	}
}

func vendorPrefix(v Vendor) string {
	switch v {
	case MemOS:
		return "MemOS"
	case Tensorheart:
		return "Tensorheart"
	case MemoryOS:
		return "MemoryOS"
	case MemoriesAI:
		return "MemoriesAI"
	case Coze:
		return "Coze"
	}
	return "Generic"
}

func TestRegistryEntries(t *testing.T) {
	all := Codes(Auto)
	sum := 0
	for _, v := range append(builtins, Generic) {
		sum += len(Codes(v))
	}
	assert.Equal(t, len(all), sum, "Codes(Auto) is every vendor's entries")

	t.Run("Codes returns a copy", func(t *testing.T) {
		c := Codes(Coze)
		c[0].Kind = KindInternal
		info, _ := Lookup(Coze, c[0].Code.Value)
		assert.NotEqual(t, KindInternal, info.Kind)
	})
	t.Run("Lookup is exact", func(t *testing.T) {
		_, ok := Lookup(Coze, "40300")
		assert.False(t, ok, "a MemOS code is not a Coze code")
		_, ok = Lookup(Tensorheart, "rate_limit_exceeded")
		assert.False(t, ok, "codes are case-sensitive as sent")
		_, ok = Lookup(Auto, "4011")
		assert.False(t, ok)
	})
	t.Run("Code strings", func(t *testing.T) {
		assert.Equal(t, "coze/4011", CozeInsufficientBalance.String())
		assert.Equal(t, "memerr: coze 4011 (the Coze token balance is too low)", CozeInsufficientBalance.Error())
		assert.Equal(t, "memerr: coze 4999", Code{Coze, "4999"}.Error(), "unknown codes still print")
		assert.Equal(t, "auto/4011", Code{Value: "4011"}.String())
	})
}

func TestKindForStatus(t *testing.T) {
	tests := map[int]Kind{
		0: KindUnknown, 200: KindUnknown, 399: KindUnknown, 600: KindUnknown, -1: KindUnknown,
		400: KindInvalidRequest, 401: KindUnauthenticated, 402: KindInsufficientBalance, 403: KindPermissionDenied,
		404: KindNotFound, 408: KindUnavailable, 409: KindConflict, 410: KindNotFound, 418: KindInvalidRequest,
		422: KindInvalidRequest, 429: KindRateLimited, 499: KindInvalidRequest,
		500: KindInternal, 501: KindInvalidRequest, 502: KindUnavailable, 503: KindUnavailable,
		504: KindUnavailable, 507: KindInternal, 599: KindInternal,
	}
	for status, want := range tests {
		assert.Equal(t, want, KindForStatus(status), "status %d", status)
	}
}
