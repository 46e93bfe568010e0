package clerkauth

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth/internal/clerkjs"
)

// TestChecksAgreeWithClerk feeds generated claim sets (v1 and v2
// organizations, fea, pla, fva, and odd inputs: empty entries, leading
// zeros, signs, fpm values beyond 64 bits, unscoped items, malformed fva)
// and checks (roles, permissions, features, plans, reverification levels)
// to our Identity and Check, and to Clerk's own has() and JWT payload
// parser (@clerk/shared, pinned in testdata/oracle), and requires the same
// answer for every check, and the same organization permissions.
//
// The one difference that remains on purpose: a claim of the wrong JSON
// type (o.id a number, org_permissions holding a number, …) makes the
// token invalid here (the strict claims decoder), where Clerk would read
// the session and fail or skip the check. It is in the fail-closed
// direction, and the generator produces such claims rarely, on purpose.
func TestChecksAgreeWithClerk(t *testing.T) {
	cases := authzCorpus(600)
	var clerk []struct {
		Throws         bool   `json:"throws"`
		Results        []bool `json:"results"`
		OrgPermissions []any  `json:"orgPermissions"`
	}
	clerkjs.Run(t, "authz.mjs", map[string]any{"cases": cases}, &clerk)
	require.Len(t, clerk, len(cases))

	a := fuzzAuth(t)
	compared, refusedTyped, throws := 0, 0, 0
	for i, c := range cases {
		payload, err := json.Marshal(c.Claims)
		require.NoError(t, err)
		id, err := a.identityFromPayload(payload)
		if clerk[i].Throws {
			assert.Error(t, err, "Clerk cannot read %s; we must refuse it", payload)
			throws++
			continue
		}
		if err != nil {
			var e *Error
			if assert.ErrorAs(t, err, &e) && assert.Contains(t, e.Detail, "not ", "we refuse %s (%v), which Clerk reads", payload, err) {
				refusedTyped++
			}
			continue
		}
		if clerk[i].OrgPermissions != nil || id.OrgPermissions != nil {
			assert.Equal(t, clerk[i].OrgPermissions, anySlice(id.OrgPermissions), "organization permissions of %s", payload)
		}
		for j, check := range c.Checks {
			ours := check.goCheck().Allow(id)
			if assert.Equal(t, clerk[i].Results[j], ours, "has(%s) on %s", check, payload) {
				compared++
			}
		}
	}
	t.Logf("%d claim sets, %d checks agree; %d claim sets Clerk cannot read, refused by both; %d with mistyped claims refused (the documented difference)", len(cases), compared, throws, refusedTyped)
	assert.GreaterOrEqual(t, compared, 3000)
	assert.NotZero(t, throws, "the corpus no longer has claims Clerk's parser refuses")
}

func anySlice(s []string) []any {
	out := []any{}
	for _, v := range s {
		out = append(out, v)
	}
	return out
}

// authzCase is a claim set and the has() parameters to try on it.
type authzCase struct {
	Claims map[string]any `json:"claims"`
	Checks []authzParams  `json:"checks"`
}

// authzParams is one has() call: exactly one field is set.
type authzParams struct {
	Role           *string `json:"role,omitempty"`
	Permission     *string `json:"permission,omitempty"`
	Feature        *string `json:"feature,omitempty"`
	Plan           *string `json:"plan,omitempty"`
	Reverification any     `json:"reverification,omitempty"` // a preset name or {level, afterMinutes}
}

func (p authzParams) String() string {
	b, _ := json.Marshal(p)
	return string(b)
}

var presets = map[string]ReverificationLevel{"strict_mfa": StrictMFA, "strict": Strict, "moderate": Moderate, "lax": Lax}

// goCheck is the Check that means the same as p.
func (p authzParams) goCheck() Check {
	switch {
	case p.Role != nil:
		return Role(*p.Role)
	case p.Permission != nil:
		return Permission(*p.Permission)
	case p.Feature != nil:
		return Feature(*p.Feature)
	case p.Plan != nil:
		return Plan(*p.Plan)
	}
	if name, ok := p.Reverification.(string); ok {
		return Reverification(presets[name])
	}
	return Reverification(p.Reverification.(ReverificationLevel))
}

// authzCorpus generates n claim sets deterministically.
func authzCorpus(n int) []authzCase {
	r := rand.New(rand.NewPCG(12, 2026))
	pick := func(list ...any) any { return list[r.IntN(len(list))] }
	str := func(list ...string) string { return list[r.IntN(len(list))] }
	items := func(pool []string, max int) string {
		k := r.IntN(max + 1)
		var out []string
		for range k {
			out = append(out, pool[r.IntN(len(pool))])
		}
		return strings.Join(out, ",")
	}
	feaPool := []string{"o:reports", "o:invoices", "u:export", "ou:sso", "uo:api", "x:bad", "o:", " o:spaced ", "o:reports", "u:reports", "reports"}
	plaPool := []string{"o:pro", "u:free", "ou:team", "u:", "o:enterprise", "u:pro", "pro"}
	roles := []string{"admin", "org:admin", "org:org:admin", "member", "", "org:", "billing:manager"}
	perms := []string{"org:reports:read", "reports:read", "org:invoices:manage", "invoices:manage", "org:sso:", "org:reports:", "org:api:write", "org:org:reports:read"}
	features := []string{"reports", "org:reports", "o:reports", "organization:reports", "user:export", "u:export", "export", "sso", "user:sso", "x:reports", "org:", "reports:extra", "org:reports:extra", "api", "user:reports", ""}
	plans := []string{"pro", "org:pro", "user:free", "free", "team", "u:team", "o:team", "enterprise", "user:pro"}
	levels := []any{"strict_mfa", "strict", "moderate", "lax",
		ReverificationLevel{"first_factor", 1}, ReverificationLevel{"second_factor", 10}, ReverificationLevel{"multi_factor", 5},
		ReverificationLevel{"first_factor", 20}, ReverificationLevel{"multi_factor", 1440}}
	fvas := []any{[]any{0, -1}, []any{5, 3}, []any{-1, -1}, []any{-1, 2}, []any{15, 20}, []any{9, 9}, []any{1.5, -1},
		[]any{0, 0}, []any{3}, "x", []any{-2, 1}, nil, []any{1000, 5}, []any{10, 10}, []any{59, 61}, []any{9, -1}, []any{-1, 9}}
	fpms := []string{"3,1", "07,1", "+3", "-1", "18446744073709551617", "340282366920938463463374607431768211457", "1.5", "", " 3 ", "3,", ",3", "abc", "1", "2", "5,6,7", "0", "00003"}
	pers := []string{"read,manage", "read, ,manage", "", "a,,b", " x ", "read", "manage,read,write"}

	var cases []authzCase
	for i := range n {
		claims := map[string]any{"sub": "user_1", "iss": "https://clerk.fuzz.test", "exp": 1767225600 + 60, "sid": fmt.Sprint("sess_", i)}
		if fva := pick(fvas...); fva != nil {
			claims["fva"] = fva
		}
		if r.IntN(4) > 0 {
			claims["fea"] = items(feaPool, 4)
		}
		if r.IntN(3) > 0 {
			claims["pla"] = items(plaPool, 3)
		}
		switch r.IntN(5) {
		case 0: // v1
			if r.IntN(4) > 0 {
				claims["org_id"] = str("org_1", "")
				claims["org_role"] = str(roles...)
				claims["org_slug"] = "acme"
				var list []any
				for range r.IntN(4) {
					list = append(list, str(perms...))
				}
				if r.IntN(20) == 0 {
					list = append(list, 5) // mistyped: the documented difference
				}
				claims["org_permissions"] = list
			}
		default: // v2
			claims["v"] = 2
			if r.IntN(5) > 0 {
				o := map[string]any{"id": str("org_1", "org_2", ""), "slg": "acme"}
				if r.IntN(6) > 0 {
					o["rol"] = str("admin", "member", "org:admin", "", "billing:manager")
				}
				if r.IntN(6) > 0 {
					o["per"] = str(pers...)
				}
				if r.IntN(6) > 0 {
					o["fpm"] = str(fpms...)
				}
				if r.IntN(30) == 0 {
					o["id"] = 42 // mistyped: the documented difference
				}
				claims["o"] = o
			}
		}
		var checks []authzParams
		for range 8 {
			var p authzParams
			ptr := func(s string) *string { return &s }
			switch r.IntN(5) {
			case 0:
				p.Role = ptr(str(roles...))
			case 1:
				p.Permission = ptr(str(perms...))
			case 2:
				p.Feature = ptr(str(features...))
			case 3:
				p.Plan = ptr(str(plans...))
			default:
				p.Reverification = pick(levels...)
			}
			checks = append(checks, p)
		}
		cases = append(cases, authzCase{Claims: claims, Checks: checks})
	}
	return cases
}
